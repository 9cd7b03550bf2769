"""Event contracts (architecture §6), one marshmallow schema per (exchange, event type, version).

Payloads are flat: the envelope fields (event_id, event_type, version, occurred_at, correlation_id)
sit beside the event's own fields. A new field that consumers may ignore can be added to a version;
renaming or dropping one needs a new version, published beside the old one until consumers move.

Every application.* and certificate.* event names its issuing agency (``agency_code``, and the
office where it has one): the outbox relay copies both into AMQP headers, so that an agency's
system binds to its own events only (docs/events.md).
"""

import uuid
from datetime import datetime, timezone

from marshmallow import Schema, ValidationError, fields, validate


class Envelope(Schema):
    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, format="iso", default_timezone=timezone.utc)
    correlation_id = fields.String(required=True, allow_none=True)

    class Meta:
        # Consumers must tolerate fields added later to the same version.
        unknown = "exclude"
        ordered = True


_Iec = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9]{10}$"))
_Paise = fields.Integer(required=True, validate=validate.Range(min=0))


class ExporterRegisteredV1(Envelope):
    iec = _Iec
    name = fields.String(required=True)
    email = fields.Email(required=True)
    mobile = fields.String(required=True)


class CredentialsIssuedV1(Envelope):
    """Internal: a password made for a person, for the notification service to email. Not for
    agencies' systems (they bind application.events and certificate.events only); the password
    is never stored by registration, and notification clears it from its log once delivered."""

    username = fields.String(required=True)
    role = fields.String(
        required=True, validate=validate.OneOf(["exporter", "officer", "agency_admin", "admin"])
    )
    name = fields.String(required=True)
    email = fields.Email(required=True)
    mobile = fields.String(required=True, allow_none=True)
    password = fields.String(required=True)
    reason = fields.String(
        required=True, validate=validate.OneOf(["registration", "password_reset", "staff_account"])
    )


class ApplicationSubmittedV1(Envelope):
    application_id = fields.String(required=True)
    application_number = fields.String(required=True)
    iec = _Iec
    agreement_code = fields.String(required=True, allow_none=True)
    agency_code = fields.String(required=True)
    issuing_office_code = fields.String(required=True)


class DiscrepancyRaisedV1(Envelope):
    application_id = fields.String(required=True)
    application_number = fields.String(required=True)
    iec = _Iec
    comment = fields.String(required=True)
    agency_code = fields.String(required=True)
    issuing_office_code = fields.String(required=True)


class ApplicationResubmittedV1(Envelope):
    application_id = fields.String(required=True)
    application_number = fields.String(required=True)
    iec = _Iec
    agency_code = fields.String(required=True)
    issuing_office_code = fields.String(required=True)


class ApplicationApprovedV1(Envelope):
    application_id = fields.String(required=True)
    application_number = fields.String(required=True)
    iec = _Iec
    officer = fields.String(required=True)
    agency_code = fields.String(required=True)
    issuing_office_code = fields.String(required=True)


class ApplicationRejectedV1(Envelope):
    application_id = fields.String(required=True)
    application_number = fields.String(required=True)
    iec = _Iec
    reason = fields.String(required=True)
    agency_code = fields.String(required=True)
    issuing_office_code = fields.String(required=True)


class CredentialsChangedV1(Envelope):
    """Internal: an account's password changed (by its owner, by a reset link, or by the CLI);
    tokens carrying an older ``credentials_version`` (claim ``ver``) are refused from now on. Every gateway
    process hears it (a broadcast)."""

    username = fields.String(required=True)
    credentials_version = fields.Integer(required=True, validate=validate.Range(min=2))


class TokenRevokedV1(Envelope):
    """Internal: someone logged out; the token ``token_id`` (claim ``jti``) is refused from now
    on, until it would have expired anyway. Every gateway process hears it (a broadcast)."""

    username = fields.String(required=True)
    token_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    expires_at = fields.String(required=True)


class OrganisationChangedV1(Envelope):
    """Internal: an agency, regional office or issuing office was added; the gateway drops its
    cached list of agencies and offices. Every gateway process hears it (a broadcast)."""

    agency_code = fields.String(required=True)


class PasswordResetRequestedV1(Envelope):
    """Internal: "forgot password" matched an account; the notification service emails the
    link, which works once, for ``expires_in_minutes``. The link is a secret: scrubbed from the
    outbox once published, and from notification's log once delivered."""

    username = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.Email(required=True)
    link = fields.Url(required=True, require_tld=False)
    expires_in_minutes = fields.Integer(required=True, validate=validate.Range(min=1))


class LoginFailuresAlertV1(Envelope):
    """Internal: failed logins from elsewhere are slowing an account down; the owner is told by
    email (at most once an hour)."""

    username = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.Email(required=True)
    failures = fields.Integer(required=True, validate=validate.Range(min=1))
    addresses = fields.Integer(required=True, validate=validate.Range(min=1))
    window_minutes = fields.Integer(required=True, validate=validate.Range(min=1))


class PaymentCompletedV1(Envelope):
    payment_id = fields.String(required=True)
    application_id = fields.String(required=True)
    amount_paise = _Paise
    cgst = _Paise
    sgst = _Paise
    igst = _Paise
    total = _Paise


class PaymentFailedV1(Envelope):
    payment_id = fields.String(required=True)
    application_id = fields.String(required=True)
    reason = fields.String(required=True)


class CertificateIssuedV1(Envelope):
    certificate_id = fields.String(required=True)
    certificate_number = fields.String(required=True)
    application_id = fields.String(required=True)
    iec = _Iec
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    url = fields.Url(required=True, require_tld=False)
    agency_code = fields.String(required=True)
    issuing_office_code = fields.String(required=True)


class CertificateRevokedV1(Envelope):
    certificate_id = fields.String(required=True)
    certificate_number = fields.String(required=True)
    reason = fields.String(required=True)
    agency_code = fields.String(required=True)
    issuing_office_code = fields.String(required=True)


# (exchange source service, event type) -> {version: schema class}. The exchange is
# "<source>.events" and the routing key is the event type.
EVENTS = {
    ("registration", "exporter_registered"): {1: ExporterRegisteredV1},
    ("registration", "credentials_issued"): {1: CredentialsIssuedV1},
    ("registration", "credentials_changed"): {1: CredentialsChangedV1},
    ("registration", "token_revoked"): {1: TokenRevokedV1},
    ("registration", "organisation_changed"): {1: OrganisationChangedV1},
    ("registration", "password_reset_requested"): {1: PasswordResetRequestedV1},
    ("registration", "login_failures_alert"): {1: LoginFailuresAlertV1},
    ("application", "application_submitted"): {1: ApplicationSubmittedV1},
    ("application", "discrepancy_raised"): {1: DiscrepancyRaisedV1},
    ("application", "application_resubmitted"): {1: ApplicationResubmittedV1},
    ("application", "application_approved"): {1: ApplicationApprovedV1},
    ("application", "application_rejected"): {1: ApplicationRejectedV1},
    ("payment", "payment_completed"): {1: PaymentCompletedV1},
    ("payment", "payment_failed"): {1: PaymentFailedV1},
    ("certificate", "certificate_issued"): {1: CertificateIssuedV1},
    ("certificate", "certificate_revoked"): {1: CertificateRevokedV1},
}

# Fields no service may keep once the event has left: the outbox scrubs them after publishing.
SECRET_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("registration", "credentials_issued"): ("password",),
    ("registration", "password_reset_requested"): ("link",),
}
SCRUBBED = "[scrubbed]"


def scrubbed(source: str, payload: dict) -> dict:
    secrets = SECRET_FIELDS.get((source, str(payload.get("event_type"))), ())
    return {k: (SCRUBBED if k in secrets else v) for k, v in payload.items()}


class UnknownEvent(ValueError):
    pass


def exchange_name(source: str) -> str:
    return f"{source}.events"


def latest_version(source: str, event_type: str) -> int:
    return max(_versions(source, event_type))


def _versions(source, event_type):
    try:
        return EVENTS[(source, event_type)]
    except KeyError:
        raise UnknownEvent(f"{source} publishes no event {event_type!r}") from None


def schema_for(source: str, event_type: str, version: int) -> Schema:
    versions = _versions(source, event_type)
    try:
        return versions[version]()
    except KeyError:
        raise UnknownEvent(f"{source}.{event_type} has no version {version}") from None


def make_event(
    source: str, event_type: str, data: dict, correlation_id: str | None, version: int | None = None
) -> dict:
    """Build a validated, JSON-ready payload: the envelope plus ``data``.

    Raises marshmallow's ValidationError when ``data`` breaks the contract, so a producer can never
    publish what its consumers cannot read.
    """
    version = version or latest_version(source, event_type)
    schema = schema_for(source, event_type, version)
    payload = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "version": version,
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "correlation_id": correlation_id,
        **data,
    }
    unknown = set(data) - set(schema.fields)
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
    errors = schema.validate(payload)
    if errors:
        raise ValidationError(errors)
    return payload


def parse_event(source: str, event_type: str, payload: dict) -> dict:
    """Validate an incoming payload against the contract of its own version; raises ValidationError
    or UnknownEvent for a message no consumer can act on."""
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": ["Event payload must be a JSON object."]})
    version = payload.get("version")
    if not isinstance(version, int):
        raise ValidationError({"version": ["Missing or not an integer."]})
    if payload.get("event_type") != event_type:
        raise ValidationError({"event_type": [f"Expected {event_type!r}."]})
    return schema_for(source, event_type, version).load(payload)
