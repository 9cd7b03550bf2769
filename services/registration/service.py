"""Registration service entrypoints: organisation, captcha and login (exporter registration and
staff accounts follow)."""
from services.chassis import base
from services.chassis.entrypoints import rpc
from services.contracts import tokens
from services.registration import accounts
from services.registration.organisation_store import list_agencies


class RegistrationService(base.ServiceBase):
    name = "registration"

    @rpc
    def agencies(self):
        return list_agencies(self.db.session)

    @rpc
    def new_captcha(self):
        return accounts.new_captcha(self.db.session)

    @rpc
    def login(self, username, password, captcha_id, captcha_answer):
        session = self.db.session
        try:
            accounts.consume_captcha(session, captcha_id, captcha_answer)
        finally:
            self.db.commit()  # the captcha is spent even when the login then fails
        account = accounts.authenticate(session, username, password)
        return accounts.token_for(account, tokens.private_key_path().read_bytes())
