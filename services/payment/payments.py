"""The payment service layer: the fee schedule, order summaries, payments and their callbacks,
and reconciliation (architecture §4 "Fees"); receipts' numbers and contents are
``receipt_register.py``'s. Functions over the unit of work; the
arithmetic is ``fees.py``'s, the providers' protocols ``providers.py``'s, the PDF
``receipts.py``'s.

Nothing here calls another service: ``service.py`` fetches the application (through the
application service, which decides who may see it), the exporter and the organisation, and hands
them in as plain dicts (``billing_parties``).

A payment is counted once whatever arrives: its completion is a conditional update from
``created`` or ``failed``, so a repeated callback, or a callback racing a reconciliation, finds
the row already completed and changes nothing.
"""

import logging
import uuid
from datetime import date, timedelta
from decimal import Decimal

from marshmallow import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from services.chassis.database import utcnow
from services.chassis.errors import (
    BadRequest,
    Conflict,
    NotFound,
    RuleViolation,
    ServiceUnavailable,
    Unauthorized,
)
from services.chassis.timestamps import today_in_india
from services.contracts.application_status import Status
from services.contracts.fees import FeeWindow
from services.payment import fees, policy, receipt_register
from services.payment.models import FeeRow, Payment
from services.payment.providers import InvalidCallback, ProviderStatus, ProviderUnavailable

log = logging.getLogger(__name__)

REUSE_OPEN_PAYMENT = timedelta(minutes=30)  # a second click within this reuses the open order
SERVICE_NAMES = {
    "issue": "Certificate of Origin",
    "duplicate": "Duplicate Certificate of Origin",
    "in_lieu": "Certificate of Origin in lieu",
    "non_preferential": "Certificate of Origin (Non-Preferential)",
}


# --- fee schedule -------------------------------------------------------------------------------


def _fee_view(row: FeeRow) -> dict:
    return {
        "id": row.id,
        "agency_code": row.agency_code,
        "service": row.service,
        "base_paise": row.base_paise,
        "gst_rate": row.gst_rate,
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat() + "Z",
    }


def _fee(row: FeeRow) -> fees.Fee:
    return fees.Fee(
        agency_code=row.agency_code,
        service=row.service,
        base_paise=row.base_paise,
        gst_rate_percent=Decimal(row.gst_rate),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def list_fees(session, actor, agency_code=None) -> list[dict]:
    agency_code = policy.schedule_scope(actor, agency_code)
    query = select(FeeRow).order_by(FeeRow.agency_code, FeeRow.service, FeeRow.valid_from)
    if agency_code:
        query = query.where(FeeRow.agency_code == agency_code)
    return [_fee_view(row) for row in session.scalars(query)]


def add_fee(session, actor, body, known_agencies) -> dict:
    """A new window of the schedule. Windows are never edited: a later ``valid_from`` takes over
    from its day on (``fees.fee_in_force``), so past receipts keep explaining themselves."""
    try:
        window = FeeWindow().load(body)
    except ValidationError as exc:
        raise BadRequest("the fee is not valid", code="INVALID_FEE", fields=exc.messages) from None
    policy.require_manager_of(actor, window["agency_code"])
    if window["valid_from"] < today_in_india():  # what past dates cost is settled
        raise RuleViolation(
            "a fee window starts today or later",
            code="STARTS_IN_THE_PAST",
            fields={"valid_from": [f"Before today ({today_in_india()})."]},
        )
    if window["agency_code"] not in known_agencies:
        raise RuleViolation(
            "no such agency", code="AGENCY_UNKNOWN", fields={"agency_code": ["Unknown agency."]}
        )
    row = FeeRow(
        agency_code=window["agency_code"],
        service=window["service"],
        base_paise=window["base_paise"],
        gst_rate=str(window["gst_rate"]),
        valid_from=window["valid_from"],
        valid_to=window["valid_to"],
        created_by=actor["username"],
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _fee_view(row)


def fee_for(session, agency_code, service, on: date) -> fees.Fee:
    rows = session.scalars(
        select(FeeRow).where(FeeRow.agency_code == agency_code, FeeRow.service == service)
    ).all()
    fee = fees.fee_in_force([_fee(r) for r in rows], agency_code, service, on)
    if fee is None:
        raise RuleViolation(
            f"no {service} fee of {agency_code} is in force on {on}", code="FEE_NOT_SCHEDULED"
        )
    return fee


def seed_fee(session, agency_code, service, base_paise, gst_rate, valid_from) -> bool:
    """Add a window unless the agency has one for this service already (never overwrite)."""
    if session.scalar(
        select(FeeRow.id).where(FeeRow.agency_code == agency_code, FeeRow.service == service).limit(1)
    ):
        return False
    session.add(
        FeeRow(
            agency_code=agency_code,
            service=service,
            base_paise=base_paise,
            gst_rate=gst_rate,
            valid_from=valid_from,
            created_by="seed",
            created_at=utcnow(),
        )
    )
    return True


# --- who is billed, by whom ---------------------------------------------------------------------


def fee_service(application) -> str:
    """Which line of the schedule an application pays."""
    if application.get("request_kind") in ("duplicate", "in_lieu"):
        return application["request_kind"]
    return "non_preferential" if application.get("kind") == "non_preferential" else "issue"


def billing_parties(application, exporter, agencies, agreement) -> dict:
    """The supplier (issuing office of the agency), the recipient (the exporter's branch) and the
    certificate, as the order summary and the receipt show them."""
    form = application.get("form") or {}
    missing = {
        name: ["Required before the fee can be worked out."]
        for name in ("agency_code", "issuing_office_code", "branch_id")
        if not form.get(name)
    }
    if missing:
        raise RuleViolation(
            "the application does not say who issues it or which branch pays",
            code="FEE_NOT_AVAILABLE",
            fields=missing,
        )
    agency = next((a for a in agencies if a["code"] == form["agency_code"]), None)
    office = agency and next(
        (
            o
            for r in agency["regional_offices"]
            for o in r["issuing_offices"]
            if o["code"] == form["issuing_office_code"]
        ),
        None,
    )
    branch = next((b for b in exporter["branches"] if b["branch_id"] == form["branch_id"]), None)
    if agency is None or office is None or branch is None:
        raise RuleViolation(
            "the issuing office or the branch is not known",
            code="FEE_NOT_AVAILABLE",
            fields={"issuing_office_code" if office is None else "branch_id": ["Not known."]},
        )
    service = fee_service(application)
    name = SERVICE_NAMES[service]
    if agreement:
        name = f"{name} — {agreement['short_name']} ({agreement['certificate_form']})"
    return {
        "service": service,
        "certificate_name": name,
        "application_id": application["id"],
        "application_number": application["number"],
        "agency": {"code": agency["code"], "name": agency["name"]},
        "issuing_office": {
            "code": office["code"],
            "name": office["name"],
            "state": office["state"],
            "gstin": office.get("gstin"),
            "address": office.get("address", ""),
        },
        "exporter": {
            "iec": exporter["iec"],
            "name": exporter["name"],
            "branch_id": branch["branch_id"],
            "gstin": branch.get("gstin"),
            "state": branch["state"],
            "address": branch.get("address", ""),
        },
    }


def _quote(session, parties, on: date) -> tuple[fees.Fee, fees.OrderSummary]:
    fee = fee_for(session, parties["agency"]["code"], parties["service"], on)
    return fee, fees.gst_split(
        fee.base_paise,
        fee.gst_rate_percent,
        parties["exporter"]["state"],
        parties["issuing_office"]["state"],
        sez_unit=fees.is_sez_unit(parties["exporter"]),
    )


def _amounts(summary, fee) -> dict:
    return {**summary.as_dict(), "gst_rate": str(fee.gst_rate_percent), "currency": "INR"}


def order_summary(session, application, parties) -> dict:
    """The portal's ORDER SUMMARY. Once paid, the figures are the payment's, not today's."""
    paid = _completed_payment(session, application["id"])
    if paid is not None:
        amounts = {
            "base": paid.base,
            "cgst": paid.cgst,
            "sgst": paid.sgst,
            "igst": paid.igst,
            "total": paid.total,
            "gst_rate": paid.gst_rate,
            "currency": paid.currency,
        }
    else:
        fee, summary = _quote(session, parties, today_in_india())
        amounts = _amounts(summary, fee)
    return {
        "application_id": application["id"],
        "application_number": application["number"],
        "certificate_name": parties["certificate_name"],
        "agency_name": parties["agency"]["name"],
        "service": parties["service"],
        "tax": "CGST+SGST"
        if amounts["igst"] == 0 and amounts["cgst"]
        else ("IGST" if amounts["igst"] else "none"),
        "place_of_supply": parties["exporter"]["state"],
        **amounts,
        "paid": paid is not None,
        "payment_id": paid.id if paid else None,
    }


# --- payments -----------------------------------------------------------------------------------


def _completed_payment(session, application_id) -> Payment | None:
    return session.scalar(
        select(Payment)
        .where(Payment.application_id == application_id, Payment.status == "completed")
        .limit(1)
    )


def return_path(application_id: str) -> str:
    """Where the provider sends the payer back: the application's page in the portal, which
    says, once paid, that the application has gone to its issuing office."""
    return f"/applications/{application_id}"


def payment_view(payment: Payment) -> dict:
    return {
        "payment_id": payment.id,
        "application_id": payment.application_id,
        "application_number": payment.application_number,
        "provider": payment.provider,
        "status": payment.status,
        "failure_reason": payment.failure_reason,
        "redirect_url": payment.redirect_url,
        "currency": payment.currency,
        "base": payment.base,
        "cgst": payment.cgst,
        "sgst": payment.sgst,
        "igst": payment.igst,
        "total": payment.total,
        "gst_rate": payment.gst_rate,
        "receipt_number": payment.receipt_number,
        "created_at": payment.created_at.isoformat() + "Z",
        "completed_at": payment.completed_at.isoformat() + "Z" if payment.completed_at else None,
    }


def check_payable(session, actor, application):
    policy.require_payer(actor)
    if _completed_payment(session, application["id"]) is not None:
        raise Conflict("this application is paid already", code="ALREADY_PAID")
    if application["status"] != Status.PENDING_PAYMENT:
        raise Conflict(
            f"an application in status {application['status']} is not awaiting payment",
            code="APPLICATION_NOT_PAYABLE",
        )


def create_payment(uow, actor, application, parties, provider, return_url) -> dict:
    """A payment for a pending application and the provider's page to pay it on. A second click
    while an order is open gets that order back rather than a second charge."""
    session = uow.session
    check_payable(session, actor, application)
    if not parties["issuing_office"].get("gstin"):
        # No tax invoice could be made for this money: refuse before any is taken.
        raise RuleViolation(
            "the issuing office has no GSTIN on record yet; payment opens once its agency adds it",
            code="SUPPLIER_GSTIN_MISSING",
        )
    now = utcnow()
    open_payment = session.scalar(
        select(Payment)
        .where(
            Payment.application_id == application["id"],
            Payment.status == "created",
            Payment.provider == provider.name,
            Payment.order_id.is_not(None),
            Payment.created_at > now - REUSE_OPEN_PAYMENT,
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
    )
    fee, summary = _quote(session, parties, today_in_india())
    if open_payment is not None and open_payment.total == summary.total:
        return payment_view(open_payment)
    payment = Payment(
        id=str(uuid.uuid4()),
        application_id=application["id"],
        application_number=application["number"],
        iec=parties["exporter"]["iec"],
        agency_code=parties["agency"]["code"],
        service=parties["service"],
        provider=provider.name,
        currency="INR",
        gst_rate=str(fee.gst_rate_percent),
        base=summary.base,
        cgst=summary.cgst,
        sgst=summary.sgst,
        igst=summary.igst,
        total=summary.total,
        status="created",
        created_by=actor["username"],
        created_at=now,
        parties=parties,
    )
    session.add(payment)
    uow.commit()  # the row exists before the provider hears of it: a callback always finds it
    try:
        order = provider.create_order(
            payment.id,
            payment.total,
            payment.currency,
            f"{parties['certificate_name']} {payment.application_number}",
            return_url,
        )
    except ProviderUnavailable as exc:
        payment.status, payment.failure_reason = "failed", f"provider unavailable: {exc}"[:500]
        uow.commit()
        raise ServiceUnavailable(
            "the payment provider cannot be reached; try again shortly", code="PAYMENT_PROVIDER_UNAVAILABLE"
        ) from None
    payment.order_id, payment.redirect_url = order.order_id, order.redirect_url
    return payment_view(payment)


def list_payments(session, application_id) -> list[dict]:
    return [
        payment_view(p)
        for p in session.scalars(
            select(Payment).where(Payment.application_id == application_id).order_by(Payment.created_at)
        )
    ]


# --- callbacks and reconciliation ---------------------------------------------------------------


def handle_callback(uow, provider, headers, body: bytes) -> dict:
    """A provider's server-to-server callback: verified, matched with its payment, applied once."""
    try:
        status = provider.parse_callback(headers, body)
    except InvalidCallback as exc:
        log.warning("refused %s callback: %s", provider.name, exc)
        raise Unauthorized(
            "the callback's signature does not verify", code="CALLBACK_SIGNATURE_INVALID"
        ) from None
    if status.state == "pending":
        return {"outcome": "ignored"}
    payment = uow.session.scalar(
        select(Payment).where(Payment.order_id == status.order_id, Payment.provider == provider.name)
    )
    if payment is None:
        log.warning("%s callback for unknown order %s", provider.name, status.order_id)
        raise NotFound("no payment has this order", code="PAYMENT_UNKNOWN")
    return {"outcome": apply_status(uow, payment, status), "payment_id": payment.id}


def apply_status(uow, payment: Payment, status: ProviderStatus) -> str:
    """Apply what the provider says about ``payment``: completed once, failed once, else nothing.
    Returns what happened: completed, failed, duplicate or ignored."""
    session = uow.session
    if status.state == "paid":
        if status.amount_paise != payment.total or (status.currency or "").upper() != payment.currency:
            log.error(
                "payment %s: provider reports %s %s, order was %s %s",
                payment.id,
                status.amount_paise,
                status.currency,
                payment.total,
                payment.currency,
            )
            raise RuleViolation("the amount paid is not the amount ordered", code="PAYMENT_AMOUNT_MISMATCH")
        now = utcnow()
        other = aliased(Payment)
        done = session.execute(
            update(Payment)
            .where(
                Payment.id == payment.id,
                Payment.status.in_(("created", "failed")),
                ~select(other.id)
                .where(other.application_id == payment.application_id, other.status == "completed")
                .exists(),
            )
            .values(
                status="completed",
                completed_at=now,
                failure_reason=None,
                provider_payment_id=status.provider_payment_id,
            )
        ).rowcount
        if done != 1:
            return _second_payment(session, payment, status)
        session.refresh(payment)
        supplier = payment.parties["issuing_office"].get("gstin") or payment.agency_code
        payment.receipt_number = receipt_register.next_receipt_number(session, supplier, now)
        uow.emit(
            "payment_completed",
            {
                "payment_id": payment.id,
                "application_id": payment.application_id,
                "amount_paise": payment.base,
                "cgst": payment.cgst,
                "sgst": payment.sgst,
                "igst": payment.igst,
                "total": payment.total,
            },
        )
        return "completed"
    if status.state == "failed":
        reason = (status.reason or "declined")[:500]
        done = session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.status == "created")
            .values(status="failed", failure_reason=reason)
        ).rowcount
        if done != 1:
            return "ignored"
        uow.emit(
            "payment_failed",
            {"payment_id": payment.id, "application_id": payment.application_id, "reason": reason},
        )
        return "failed"
    return "ignored"


def _second_payment(session, payment, status) -> str:
    """The provider says paid, but this payment is completed already (a replay: nothing to do)
    or another payment of the application is (the payer paid twice: the money is owed back)."""
    session.refresh(payment)
    if payment.status in ("completed", "refund_due"):
        return "duplicate"
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(("created", "failed")))
        .values(
            status="refund_due",
            completed_at=utcnow(),
            provider_payment_id=status.provider_payment_id,
            failure_reason="paid twice: another payment of this application completed first; refund owed",
        )
    )
    log.error(
        "payment %s of application %s was paid although another payment completed first: marked refund_due",
        payment.id,
        payment.application_id,
    )
    return "refund_due"


RECONCILE_HORIZON = timedelta(days=7)  # provider orders expire long before: stop asking then


def stuck_payments(session, provider_name, older_than: timedelta) -> list[str]:
    now = utcnow()
    return list(
        session.scalars(
            select(Payment.id)
            .where(
                Payment.status == "created",
                Payment.provider == provider_name,
                Payment.order_id.is_not(None),
                Payment.created_at < now - older_than,
                Payment.created_at > now - RECONCILE_HORIZON,
            )
            .order_by(Payment.created_at)
        )
    )


def reconcile_one(uow, provider, payment_id) -> str:
    """Ask the provider about one payment still in progress and apply its answer."""
    payment = uow.session.get(Payment, payment_id)
    if payment is None or payment.status != "created":
        return "ignored"
    uow.commit()  # no transaction open while the provider answers
    try:
        status = provider.fetch_status(payment.order_id)
    except ProviderUnavailable as exc:
        log.warning("reconcile %s: provider unavailable: %s", payment_id, exc)
        return "error"
    if status.state == "pending":
        return "pending"
    try:
        return apply_status(uow, payment, status)
    except RuleViolation:
        return "mismatch"
