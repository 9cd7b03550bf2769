"""The sandbox payment provider's own side: its page's payment, the payer's choice kept once, and
what the provider reads back when it calls us. No money moves; it lets the whole payment path run
on one machine. Plain Python over the unit of work."""

from sqlalchemy import select, update

from services.chassis.errors import BadRequest, NotFound
from services.payment import payments
from services.payment.models import Payment


def sandbox_payment(session, payment_id) -> Payment:
    payment = session.get(Payment, str(payment_id))
    if payment is None or payment.provider != "sandbox":
        raise NotFound("no such sandbox payment", code="PAYMENT_UNKNOWN")
    return payment


def sandbox_decide(session, payment_id, outcome) -> Payment:
    """The payer's choice on the sandbox page, kept once (the sandbox's own memory)."""
    if outcome not in ("success", "failure"):
        raise BadRequest(
            "outcome must be success or failure",
            code="INVALID_OUTCOME",
            fields={"outcome": ["success or failure"]},
        )
    payment = sandbox_payment(session, payment_id)
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.sandbox_outcome.is_(None))
        .values(sandbox_outcome=outcome)
    )
    session.refresh(payment)
    return payment


def sandbox_decision(session, order_id):
    payment = session.scalar(
        select(Payment).where(Payment.order_id == order_id, Payment.provider == "sandbox")
    )
    if payment is None or payment.sandbox_outcome is None:
        return None
    return payment.sandbox_outcome, payment.total, payment.currency


def sandbox_view(payment: Payment) -> dict:
    """The payment as the sandbox's page shows it, with the way back to the platform."""
    return {**payments.payment_view(payment), "return_path": payments.return_path(payment.application_id)}
