"""Registration service entrypoints: the IEC directory, exporter registration with DSC, login,
passwords, and the organisation with its staff accounts."""

import base64
from datetime import datetime

from services.chassis import base, config
from services.chassis.entrypoints import rpc
from services.chassis.errors import ApiError, BadRequest, Unauthorized
from services.chassis.rpc import TimedRpcProxy
from services.contracts import tokens
from services.registration import accounts, exporters, staff
from services.registration.organisation_store import agency_and_office, list_agencies


class RegistrationService(base.ServiceBase):
    name = "registration"

    signing = TimedRpcProxy("signing")

    # --- exporters ---------------------------------------------------------------------------

    @rpc
    def iec_record(self, iec):
        return exporters.public_record(self.db.session, iec)

    @rpc
    def registration_challenge(self, iec):
        return exporters.new_challenge(self.db.session, iec)

    @rpc
    def register_exporter(self, form):
        def verify_signature(data, signature_b64, iec, directors):
            return self.signing.verify_signature(
                base64.b64encode(data).decode(), signature_b64, iec, directors
            )

        return exporters.register(self.db, form, verify_signature)

    @rpc
    def exporter(self, iec):
        return exporters.exporter_profile(self.db.session, iec)

    # --- login and passwords -------------------------------------------------------------------

    @rpc
    def new_captcha(self):
        return accounts.new_captcha(self.db.session)

    @rpc
    def login(self, username, password, captcha_id, captcha_answer, address="unknown"):
        session = self.db.session
        try:
            accounts.refuse_if_locked(session, username, address)
            try:
                accounts.consume_captcha(session, captcha_id, captcha_answer)
            except BadRequest:
                accounts.record_failure(self.db, None, address)
                raise
            try:
                account = accounts.authenticate(session, username, password)
            except Unauthorized:
                accounts.record_failure(self.db, username, address)
                raise
        except ApiError:
            self.db.commit()  # spent captchas and counted failures stay, the error goes back
            raise
        accounts.record_success(session, username, address)
        return accounts.token_for(account, tokens.private_key_path().read_bytes())

    @rpc
    def forgot_password(self, username, email, captcha_id, captcha_answer, address="unknown"):
        try:
            accounts.consume_captcha(self.db.session, captcha_id, captcha_answer)
            accounts.request_reset(self.db, username, email, address, f"{config.public_url()}/reset-password")
        except ApiError:
            self.db.commit()  # the spent captcha and the counted request stay
            raise

    @rpc
    def reset_password(self, token, new_password):
        accounts.reset_password(self.db, token, new_password)

    @rpc
    def change_password(self, username, current_password, new_password):
        """A fresh token: the one the change was made with stops working, like every other."""
        account = accounts.change_password(self.db, username, current_password, new_password)
        return accounts.token_for(account, tokens.private_key_path().read_bytes())

    @rpc
    def credentials_changes(self):
        """Internal, for the gateway: accounts whose tokens before a version are refused."""
        return accounts.credentials_changes(self.db.session)

    @rpc
    def revoke_token(self, username, token_id, expires_at):
        """Logout: one token (``token_id``, its ``jti``; ``expires_at``, its ``exp``) ends."""
        accounts.revoke_token(self.db, username, token_id, datetime.utcfromtimestamp(int(expires_at)))

    @rpc
    def revoked_tokens(self):
        """Internal, for the gateway: tokens ended by logout and not yet expired."""
        return accounts.revoked_tokens(self.db.session)

    # --- organisation and staff ----------------------------------------------------------------

    @rpc
    def agencies(self):
        return list_agencies(self.db.session)

    @rpc
    def certificate_parties(self, iec, agency_code, office_code):
        """Internal, for the certificate service: the exporter (as ``exporter``), the agency and
        the issuing office that a certificate names, in one call."""
        return {
            "exporter": exporters.exporter_profile(self.db.session, iec),
            **agency_and_office(self.db.session, agency_code, office_code),
        }

    @rpc
    def create_agency(self, actor, code, name):
        return staff.create_agency(self.db, actor, code, name)

    @rpc
    def create_regional_office(self, actor, agency_code, code, name, state):
        return staff.create_regional_office(self.db, actor, agency_code, code, name, state)

    @rpc
    def create_issuing_office(self, actor, regional_office_code, code, name, state, address="", gstin=None):
        return staff.create_issuing_office(
            self.db, actor, regional_office_code, code, name, state, address, gstin
        )

    @rpc
    def offices(self, actor, agency_code=None):
        return staff.list_offices(self.db.session, actor, agency_code)

    @rpc
    def create_staff(self, actor, role, username, name, email, mobile, agency_code, issuing_office_code=None):
        return staff.create_staff(
            self.db, actor, role, username, name, email, mobile, agency_code, issuing_office_code
        )

    @rpc
    def set_staff_active(self, actor, username, active):
        return staff.set_active(self.db, actor, username, bool(active))

    @rpc
    def staff(self, actor, role=None):
        return staff.list_staff(self.db.session, actor, role)

    @rpc
    def office_contacts(self, office_code):
        """Internal (not exposed by the gateway): an issuing office and its active officers'
        contacts, for the notification service."""
        return staff.office_contacts(self.db.session, office_code)
