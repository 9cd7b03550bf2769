"""Application service entrypoints. Thin: each RPC hands over to the service-layer modules."""

import base64
from datetime import date

from services.application import applications, duplicates, examination, reference
from services.chassis import base
from services.chassis.entrypoints import event_handler, rpc
from services.chassis.errors import NotFound
from services.chassis.rpc import TimedRpcProxy


def offices_by_agency(agencies) -> dict:
    """agency -> regional office -> issuing offices, from registration's organisation."""
    return {
        a["code"]: {r["code"]: {o["code"] for o in r["issuing_offices"]} for r in a["regional_offices"]}
        for a in agencies
    }


class ApplicationService(base.ServiceBase):
    name = "application"

    registration = TimedRpcProxy("registration")
    signing = TimedRpcProxy("signing")
    # The registry's word on an original before a duplicate or in-lieu of it is approved.
    certificate = TimedRpcProxy("certificate")

    def _verify_signature(self, data, signature_b64, iec, directors):
        return self.signing.verify_signature(base64.b64encode(data).decode(), signature_b64, iec, directors)

    def _exporter_registered(self, iec) -> bool:
        try:
            self.registration.exporter(iec)
            return True
        except NotFound:
            return False

    # --- applications --------------------------------------------------------------------------

    @rpc
    def create_application(self, actor, body):
        return applications.create_draft(self.db, actor, body)

    @rpc
    def get_application(self, actor, application_id):
        return applications.get_application(self.db.session, actor, application_id)

    @rpc
    def update_application(self, actor, application_id, body):
        return applications.update_draft(self.db, actor, application_id, body)

    @rpc
    def delete_application(self, actor, application_id):
        applications.delete_draft(self.db, actor, application_id)

    @rpc
    def clone_application(self, actor, application_id):
        return applications.clone(self.db, actor, application_id)

    @rpc
    def list_applications(self, actor, filters, page=1, per_page=50, sort="-created_at"):
        return applications.list_applications(self.db.session, actor, filters, page, per_page, sort)

    @rpc
    def export_applications(self, actor, filters):
        content = applications.export_xlsx(self.db.session, actor, filters)
        return base64.b64encode(content).decode()

    @rpc
    def application_history(self, actor, application_id):
        return applications.history(self.db.session, actor, application_id)

    @rpc
    def origin_check(self, actor, application_id):
        return applications.origin_check(self.db.session, actor, application_id)

    @rpc
    def origin_check_form(self, actor, body):
        return applications.origin_check_form(actor, body)

    @rpc
    def add_document(self, actor, application_id, kind, filename, content_b64, signature_b64):
        exporter = self.registration.exporter(actor["username"])
        return applications.add_document(
            self.db,
            actor,
            application_id,
            kind,
            filename,
            base64.b64decode(content_b64),
            signature_b64,
            self._verify_signature,
            exporter["directors"],
        )

    @rpc
    def get_document(self, actor, application_id, document_id):
        return applications.get_document(self.db.session, actor, application_id, document_id)

    @rpc
    def remove_document(self, actor, application_id, document_id):
        applications.remove_document(self.db, actor, application_id, document_id)

    @rpc
    def signing_payload(self, actor, application_id):
        return applications.signing_payload(self.db.session, actor, application_id)

    @rpc
    def submit_application(self, actor, application_id, signature_b64):
        exporter = self.registration.exporter(actor["username"])
        offices = offices_by_agency(self.registration.agencies())
        return applications.submit(
            self.db, actor, application_id, signature_b64, self._verify_signature, exporter, offices
        )

    @rpc
    def resubmit_application(self, actor, application_id, signature_b64):
        exporter = self.registration.exporter(actor["username"])
        offices = offices_by_agency(self.registration.agencies())
        return applications.resubmit(
            self.db, actor, application_id, signature_b64, self._verify_signature, exporter, offices
        )

    @rpc
    def request_duplicate(self, actor, certificate, kind, reason, corrections=None, supporting=None):
        """A duplicate or in-lieu request from an issued ``certificate`` (the certificate
        service's view of it, which has checked that it is the exporter's and valid)."""
        exporter = self.registration.exporter(actor["username"])
        if supporting:
            content = base64.b64decode(supporting["content_b64"])
            checked = duplicates.check_supporting(supporting["filename"], content)
            signer = self._verify_signature(
                content, supporting["signature_b64"], actor["username"], exporter["directors"]
            )
            supporting = {**supporting, "content": content, "checked": checked, "signer": signer}
        view, new = duplicates.request(
            self.db,
            actor,
            certificate,
            kind,
            reason,
            corrections or {},
            exporter,
            offices_by_agency(self.registration.agencies()),
            supporting,
        )
        return {"application": view, "created": new}

    @event_handler("payment", "payment_completed")
    def on_payment_completed(self, event):
        examination.payment_completed(self.db, event)

    # --- officer examination -------------------------------------------------------------------

    @rpc
    def officer_queue(self, actor, filters, page=1, per_page=50):
        return examination.queue(self.db.session, actor, filters, page, per_page)

    @rpc
    def export_officer_queue(self, actor, filters):
        return base64.b64encode(examination.queue_xlsx(self.db.session, actor, filters)).decode()

    @rpc
    def raise_discrepancy(self, actor, application_id, comment):
        return examination.raise_discrepancy(self.db, actor, application_id, comment)

    @rpc
    def approve_application(self, actor, application_id, remarks=None):
        original = examination.request_original(self.db.session, actor, application_id)
        original_status = None
        if original is not None:
            self.db.rollback()  # no connection held while the registry answers
            try:
                original_status = self.certificate.verify_number(original)["status"]
            except NotFound:
                pass  # not in the registry: refused below like a revoked one
        return examination.approve(self.db, actor, application_id, remarks, original_status)

    @rpc
    def reject_application(self, actor, application_id, reason):
        return examination.reject(self.db, actor, application_id, reason)

    @rpc
    def examination_stats(self, actor, days=examination.STATS_DAYS):
        return examination.stats(self.db.session, actor, days)

    @rpc
    def self_certification(self, actor):
        return examination.list_self_certification(self.db.session, actor)

    @rpc
    def flag_self_certification(self, actor, iec, agency_code):
        agency_codes = {a["code"] for a in self.registration.agencies()}
        return examination.flag_self_certification(
            self.db.session, actor, iec, agency_code, agency_codes, self._exporter_registered
        )

    @rpc
    def unflag_self_certification(self, actor, agency_code, iec):
        examination.unflag_self_certification(self.db.session, actor, agency_code, iec)

    @rpc
    def certificate_particulars(self, application_id):
        """Internal: for the certificate service (not exposed by the gateway)."""
        return examination.certificate_particulars(self.db.session, application_id)

    @event_handler("certificate", "certificate_issued")
    def on_certificate_issued(self, event):
        examination.certificate_issued(self.db, event)

    # --- exchange rates ------------------------------------------------------------------------

    @rpc
    def exchange_rates(self, currency=None):
        return reference.list_exchange_rates(self.db.session, currency)

    @rpc
    def exchange_rates_on(self, on):
        return reference.exchange_rates_on(self.db.session, date.fromisoformat(on))

    @rpc
    def set_exchange_rate(self, actor, currency, valid_from, rate):
        return reference.set_exchange_rate(self.db.session, actor["username"], currency, valid_from, rate)

    # --- reference data ------------------------------------------------------------------------

    @rpc
    def agreements(self):
        return reference.list_agreements(self.db.session)

    @rpc
    def agreement(self, code):
        return reference.get_agreement(self.db.session, code)

    @rpc
    def units(self):
        return reference.list_units()

    @rpc
    def countries(self):
        return reference.list_countries()

    @rpc
    def currencies(self):
        return reference.list_currencies()

    @rpc
    def hs_code(self, code):
        return reference.lookup_hs(self.db.session, code)

    @rpc
    def hs_status(self):
        return reference.nomenclature_status(self.db.session)

    @rpc
    def hs_import_start(self, source):
        return reference.start_hs_import(self.db.session, source)

    @rpc
    def hs_import_rows(self, import_id, rows):
        return reference.add_hs_rows(self.db.session, import_id, rows)

    @rpc
    def hs_import_activate(self, import_id):
        return reference.activate_hs_import(self.db.session, import_id)

    @rpc
    def hs_import_csv(self, text, source):
        return reference.import_hs_csv(self.db.session, text, source)
