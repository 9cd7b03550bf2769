"""The register of GST receipts (tax invoices) of completed payments: their numbers, consecutive
per supplier GSTIN and financial year, and what a receipt shows (architecture §4 "Fees"). The PDF
is ``receipts.py``'s."""

from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.chassis.errors import Conflict, NotFound
from services.chassis.timestamps import INDIA, iso_z
from services.payment import policy
from services.payment.models import Payment, ReceiptSequence

SAC_CERTIFICATION = "998599"  # GST services code: other support services (certification)


def _financial_year(moment: datetime) -> str:
    day = moment.replace(tzinfo=timezone.utc).astimezone(INDIA).date()
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def next_receipt_number(session, supplier, now) -> str:
    """``{FY}/{SEQ:07d}``, e.g. ``2026-27/0000001``: consecutive per supplier GSTIN and financial
    year, at most 16 characters (GST invoice rules)."""
    key = {"supplier": supplier, "financial_year": _financial_year(now)}
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(ReceiptSequence).values(**key, last=0).on_conflict_do_nothing())
    session.execute(update(ReceiptSequence).filter_by(**key).values(last=ReceiptSequence.last + 1))
    last = session.scalar(select(ReceiptSequence.last).filter_by(**key))
    return f"{key['financial_year']}/{last:07d}"


def receipt_data(session, actor, payment_id) -> dict:
    """What the GST receipt shows; only for a completed payment, only to its exporter or an
    officer of the issuing office."""
    payment = session.get(Payment, str(payment_id))
    if payment is None or not policy.may_see_receipt(actor, payment):
        raise NotFound("no such payment", code="PAYMENT_UNKNOWN")
    parties = payment.parties
    if payment.status != "completed":
        raise Conflict("a receipt is issued once the payment is completed", code="PAYMENT_NOT_COMPLETED")
    office = parties["issuing_office"]
    if not office.get("gstin"):
        raise Conflict(
            "the issuing office has no GSTIN on record, so no tax invoice can be made; "
            "its agency admin adds it",
            code="SUPPLIER_GSTIN_MISSING",
        )
    return {
        "receipt_number": payment.receipt_number,
        "issued_at": iso_z(payment.completed_at),
        "payment_id": payment.id,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "agency": {**parties["agency"], "gstin": office["gstin"], "address": office["address"]},
        "issuing_office": {k: office[k] for k in ("code", "name", "state")},
        "exporter": parties["exporter"],
        "application_number": payment.application_number,
        "certificate_name": parties["certificate_name"],
        "service": payment.service,
        "sac": SAC_CERTIFICATION,
        "base": payment.base,
        "gst_rate": payment.gst_rate,
        "cgst": payment.cgst,
        "sgst": payment.sgst,
        "igst": payment.igst,
        "total": payment.total,
    }
