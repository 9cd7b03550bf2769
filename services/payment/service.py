"""Payment service entrypoints. Thin: each RPC gathers what other services know (the application,
through the application service, which also decides who may see it; the exporter and the
organisation from registration) and hands over to ``payments.py``."""

import base64
import logging
from datetime import timedelta

import requests
from nameko.timer import timer

from services.chassis import base, config
from services.chassis.entrypoints import rpc, transactional
from services.chassis.errors import NotFound
from services.chassis.offloading import in_worker_process
from services.chassis.rpc import TimedRpcProxy
from services.payment import payments, providers, receipt_register, receipts
from services.payment import sandbox as sandbox_page

log = logging.getLogger(__name__)


def reconcile_interval() -> float:
    """Seconds between the service's own sweeps for payments whose callback never came."""
    return float(config.env("OPENCOO_PAYMENT_RECONCILE_INTERVAL", "300"))


def reconcile_after() -> timedelta:
    """How old an open payment must be before the provider is asked about it: payers take time."""
    return timedelta(seconds=float(config.env("OPENCOO_PAYMENT_RECONCILE_AFTER", "600")))


class PaymentService(base.ServiceBase):
    name = "payment"

    application = TimedRpcProxy("application")
    registration = TimedRpcProxy("registration")

    def _provider(self, name=None):
        """The configured provider. Naming another one (a callback, the sandbox page) is a 404:
        with a real provider configured, nobody may complete payments through the sandbox."""
        configured = config.env("OPENCOO_PAYMENT_PROVIDER", "sandbox")
        if name is not None and name != configured:
            raise NotFound(f"payment provider {name} is not in use here", code="PROVIDER_UNKNOWN")
        return providers.provider_from_env(
            configured, decisions=lambda order_id: sandbox_page.sandbox_decision(self.db.session, order_id)
        )

    def _parties(self, application):
        code = application.get("agreement_code")
        return payments.billing_parties(
            application,
            self.registration.exporter(application["iec"]),
            self.registration.agencies(),
            self.application.agreement(code) if code else None,
        )

    # --- fee schedule ---------------------------------------------------------------------------

    @rpc
    def fees(self, actor, agency_code=None):
        return payments.list_fees(self.db.session, actor, agency_code)

    @rpc
    def add_fee(self, actor, body):
        known = {a["code"] for a in self.registration.agencies()}
        return payments.add_fee(self.db.session, actor, body, known)

    # --- paying ---------------------------------------------------------------------------------

    @rpc
    def order_summary(self, actor, application_id):
        application = self.application.get_application(actor, application_id)
        return payments.order_summary(self.db.session, application, self._parties(application))

    @rpc
    def create_payment(self, actor, application_id):
        application = self.application.get_application(actor, application_id)
        payments.check_payable(self.db.session, actor, application)
        self.db.rollback()  # nothing written yet: no connection held during the calls below
        parties = self._parties(application)
        return_url = config.public_url() + payments.return_path(application["id"])
        return payments.create_payment(self.db, actor, application, parties, self._provider(), return_url)

    @rpc
    def payments(self, actor, application_id):
        self.application.get_application(actor, application_id)  # may the caller see it?
        return payments.list_payments(self.db.session, application_id)

    @rpc
    def receipt_pdf(self, actor, payment_id):
        data = receipt_register.receipt_data(self.db.session, actor, payment_id)
        self.db.commit()  # release the connection while the PDF renders
        pdf = in_worker_process(receipts.render_receipt, data)
        return {
            "filename": f"receipt-{data['receipt_number'].replace('/', '-')}.pdf",
            "content": base64.b64encode(pdf).decode(),
        }

    @rpc
    def callback(self, provider_name, headers, body_b64):
        provider = self._provider(provider_name)
        return payments.handle_callback(self.db, provider, headers, base64.b64decode(body_b64))

    # --- the sandbox provider's page ------------------------------------------------------------

    @rpc
    def sandbox_payment(self, payment_id):
        self._provider("sandbox")
        return sandbox_page.sandbox_view(sandbox_page.sandbox_payment(self.db.session, payment_id))

    @rpc
    def sandbox_decide(self, payment_id, outcome):
        """The payer's choice; then, as a real provider would, a signed callback to the platform's
        public callback URL. If that POST fails, reconciliation reads the choice back later."""
        sandbox = self._provider("sandbox")
        payment = sandbox_page.sandbox_decide(self.db.session, payment_id, outcome)
        self.db.commit()
        headers, body = sandbox.signed_callback(
            payment.order_id, payment.sandbox_outcome, payment.total, payment.currency
        )
        try:
            requests.post(
                f"{config.public_url()}/api/v1/payments/callback/sandbox",
                data=body,
                headers=headers,
                timeout=config.rpc_timeout(),
            )
        except requests.RequestException as exc:
            log.warning("sandbox callback for %s not delivered: %s", payment_id, exc)
        return sandbox_page.sandbox_view(sandbox_page.sandbox_payment(self.db.session, payment_id))

    # --- reconciliation -------------------------------------------------------------------------

    def _reconcile(self, older_than: timedelta) -> dict:
        provider = self._provider()
        outcomes: dict[str, int] = {}
        for payment_id in payments.stuck_payments(self.db.session, provider.name, older_than):
            outcome = payments.reconcile_one(self.db, provider, payment_id)
            self.db.commit()
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    @rpc
    def reconcile(self, older_than_seconds=None):
        """Ask the provider about payments still open: ``opencoo payments reconcile``."""
        return self._reconcile(
            reconcile_after() if older_than_seconds is None else timedelta(seconds=float(older_than_seconds))
        )

    @timer(interval=reconcile_interval())
    @transactional
    def reconcile_periodically(self):
        outcomes = self._reconcile(reconcile_after())
        if outcomes:
            log.info("reconciled open payments: %s", outcomes)
