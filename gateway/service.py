"""The gateway: the only HTTP entry. It authenticates, authorizes, validates and maps to RPC;
every answer, errors included, is JSON (architecture §7). This module assembles the service: its
RPC proxies and rate limits, and the routes of each area (``gateway/routes/``)."""

from nameko.events import BROADCAST, event_handler
from nameko.timer import timer

from gateway import revocation
from gateway.ratelimit import RateLimit
from gateway.reference_cache import KnownReference
from gateway.revocation import KnownCredentialVersions

# Modules, not their classes: `nameko run` takes every class in this module's namespace that
# has entrypoints for a service of its own.
from gateway.routes import (
    accounts,
    admin,
    applications,
    certificates,
    documents,
    examination,
    payments,
    platform,
    reference,
)
from services.chassis.correlation import CorrelationId
from services.chassis.rpc import TimedRpcProxy
from services.chassis.workers import ReleaseArguments
from services.contracts.events import parse_event


class GatewayService(
    platform.PlatformRoutes,
    reference.ReferenceRoutes,
    accounts.AccountRoutes,
    applications.ApplicationRoutes,
    documents.DocumentRoutes,
    payments.PaymentRoutes,
    examination.ExaminationRoutes,
    certificates.CertificateRoutes,
    admin.AdminRoutes,
):
    name = "gateway"

    correlation_id = CorrelationId()
    release_arguments = ReleaseArguments()
    registration = TimedRpcProxy("registration")
    application = TimedRpcProxy("application")
    payment = TimedRpcProxy("payment")
    signing = TimedRpcProxy("signing")
    certificate = TimedRpcProxy("certificate")
    notification = TimedRpcProxy("notification")
    verification = TimedRpcProxy("verification")
    credential_versions = KnownCredentialVersions()
    reference = KnownReference()
    iec_lookups = RateLimit(limit=30, seconds=60)
    # Public and heavy (a PDF up to 10 MB through two services and a signature validation).
    file_verifications = RateLimit(limit=20, seconds=60)

    # --- tokens revoked by a password change or ended by logout ---------------------------------

    @event_handler("registration", "credentials_changed", handler_type=BROADCAST, reliable_delivery=False)
    def on_credentials_changed(self, payload):
        event = parse_event("registration", "credentials_changed", payload)
        self.credential_versions.note(event["username"], event["credentials_version"])

    @event_handler("registration", "organisation_changed", handler_type=BROADCAST, reliable_delivery=False)
    def on_organisation_changed(self, payload):
        parse_event("registration", "organisation_changed", payload)
        self.reference.drop("agencies")

    @event_handler("registration", "token_revoked", handler_type=BROADCAST, reliable_delivery=False)
    def on_token_revoked(self, payload):
        event = parse_event("registration", "token_revoked", payload)
        self.credential_versions.end_all([event])

    @timer(interval=revocation.REFRESH_SECONDS, eager=True)
    def refresh_credential_versions(self):
        revocation.refresh(self.credential_versions, self.registration)
