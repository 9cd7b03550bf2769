"""Certificate service entrypoints. On ``application_approved`` it renders the certificate,
has the signing service sign it with the issuing agency's key, and registers it; it also serves
certificates, previews, verification by number, the registry's entry for a file the
verification service checks, and revocation. Thin: the registry is
``registry.py``, the PDF ``rendering.py``."""

import base64

from services.certificate import registry, rendering
from services.chassis import base
from services.chassis.database import utcnow
from services.chassis.entrypoints import event_handler, rpc
from services.chassis.offloading import in_worker_process
from services.chassis.rpc import TimedRpcProxy

SIGNING_REASON = "Certificate of Origin issued"


class CertificateService(base.ServiceBase):
    name = "certificate"

    application = TimedRpcProxy("application")
    registration = TimedRpcProxy("registration")
    signing = TimedRpcProxy("signing")

    def _document(self, particulars, agreement, *, number, issued_on, officer, remarks, marking):
        """The certificate's contents from what the other services know."""
        form = particulars["form"]
        parties = self.registration.certificate_parties(
            particulars["iec"], form.get("agency_code"), form.get("issuing_office_code")
        )
        return (
            parties["exporter"],
            parties["office"],
            rendering.certificate_view(
                particulars,
                agreement,
                parties["office"],
                parties["agency"],
                parties["exporter"],
                number=number,
                issued_on=issued_on,
                officer=officer,
                remarks=remarks,
                marking=marking,
                verify_url=registry.verify_url(number),
            ),
        )

    # --- issuing --------------------------------------------------------------------------------

    @event_handler("application", "application_approved")
    def on_application_approved(self, event):
        """Render, sign, store, register: once per application however often this runs. Nothing
        is written until the signed PDF exists, so a process killed midway leaves no trace and
        the redelivered event does the whole issuance again."""
        if registry.issued_for(self.db.session, event["application_id"]) is not None:
            return
        self.db.rollback()  # no connection held while rendering and signing
        particulars = self.application.certificate_particulars(event["application_id"])
        exporter, office, document = self._document(
            particulars,
            particulars["agreement"],
            number=particulars["number"],
            issued_on=registry.india_date(utcnow()),
            officer=particulars["decided_by"],
            remarks=particulars.get("remarks") or "",
            marking=registry.marking(particulars),
        )
        pdf = in_worker_process(rendering.render_certificate, document)
        signed = self.signing.sign_certificate(
            particulars["agency_code"], base64.b64encode(pdf).decode(), SIGNING_REASON, office["name"]
        )
        registry.record_issue(self.db, particulars, exporter, base64.b64decode(signed))

    # --- reading --------------------------------------------------------------------------------

    @rpc
    def certificates(self, actor, page=1, per_page=50, status=None, number=None):
        return registry.list_certificates(self.db.session, actor, page, per_page, status, number)

    @rpc
    def certificate(self, actor, certificate_id):
        return registry.get_certificate(self.db.session, actor, certificate_id)

    @rpc
    def certificate_pdf(self, actor, certificate_id):
        certificate, pdf = registry.certificate_pdf(self.db.session, actor, certificate_id)
        return {**certificate, "content": base64.b64encode(pdf).decode()}

    @rpc
    def certificate_file(self, certificate_id):
        """Internal, for the notification service: the signed PDF of a registered certificate,
        ``{"number", "sha256", "content"}`` (content in base64)."""
        certificate, pdf = registry.certificate_file(self.db.session, certificate_id)
        return {
            "number": certificate.number,
            "sha256": certificate.sha256,
            "content": base64.b64encode(pdf).decode(),
        }

    @rpc
    def certificate_for_request(self, actor, certificate_id):
        return registry.certificate_for_request(self.db.session, actor, certificate_id)

    @rpc
    def preview(self, actor, application_id):
        """The certificate as it would look, unsigned and watermarked DRAFT."""
        application = self.application.get_application(actor, application_id)
        code = application["form"].get("agreement_code")
        _, _, document = self._document(
            application,
            self.application.agreement(code) if code else None,
            number=application.get("number") or "DRAFT",
            issued_on=None,
            officer=None,
            remarks="",
            marking=registry.marking(application),
        )
        self.db.commit()
        pdf = in_worker_process(rendering.render_certificate, document, draft=True)
        return base64.b64encode(pdf).decode()

    # --- verification and revocation ------------------------------------------------------------

    @rpc
    def verify_number(self, number):
        return registry.verify_number(self.db.session, number)

    @rpc
    def registry_entry(self, sha256):
        """Internal, for the verification service: the public view of the certificate whose
        signed PDF has this SHA-256, or None."""
        return registry.entry_by_sha256(self.db.session, sha256)

    @rpc
    def revoke(self, actor, certificate_id, reason):
        return registry.revoke(self.db, actor, certificate_id, reason)
