"""How an application reads to its callers: the summary of lists and exports, the whole view with
its form and documents. Plain Python over the models."""

from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from services.application.models import Document
from services.chassis.timestamps import iso_z


def summary(application) -> dict:
    data = application.data
    importer = data.get("importer") or {}
    return {
        "id": application.id,
        "number": application.number,
        "status": application.status,
        "kind": application.kind,
        "agreement_code": application.agreement_code,
        "agency_code": application.agency_code,
        "issuing_office_code": application.issuing_office_code,
        "importer_name": importer.get("name"),
        "importer_country": importer.get("country"),
        "invoice_number": (data.get("invoice") or {}).get("number"),
        "invoice_date": (data.get("invoice") or {}).get("date"),
        "product_count": len(data.get("products") or []),
        "fob_inr": str(
            sum((_decimal(p.get("fob_inr")) for p in data.get("products") or []), start=_decimal(0))
        ),
        "created_at": iso_z(application.created_at),
        "updated_at": iso_z(application.updated_at),
        "submitted_at": iso_z(application.submitted_at),
        "paid_at": iso_z(application.paid_at),
        "decided_at": iso_z(application.decided_at),
        "post_audit": bool(application.post_audit),
    }


def _decimal(value):
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def view(session, application) -> dict:
    docs = session.scalars(
        select(Document).where(Document.application_id == application.id).order_by(Document.uploaded_at)
    ).all()
    return {
        **summary(application),
        "iec": application.iec,
        "form": application.data,
        "cloned_from": application.cloned_from,
        "decided_by": application.decided_by,
        "remarks": application.remarks,
        "certificate_number": application.certificate_number,
        "request_kind": application.request_kind,
        "original_number": application.original_number,
        "request_reason": application.request_reason,
        "documents": [document_view(d) for d in docs],
    }


def document_view(document) -> dict:
    return {
        "id": document.id,
        "kind": document.kind,
        "filename": document.filename,
        "sha256": document.sha256,
        "size": document.size,
        "pages": document.pages,
        "signer": document.signer_subject,
        "uploaded_at": iso_z(document.uploaded_at),
    }
