"""CoO applications: drafts, documents, DSC-signed submission with its number, lists and history
(architecture §5, §7). Service-layer functions over the unit of work; the form's shape is the
contract ``services/contracts/application_form.py`` (the gateway's OpenAPI document shows it), its
rules ``rules.py`` and ``origin.py``, the document rules in ``documents.py``.

``actor`` is the caller as the gateway verified it: ``{"username", "role", "agency", "office"}``.
An exporter reaches only applications of its own IEC; anything else is "not found", so that
nobody learns which ids exist.
"""

import base64
import hashlib
import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from services.application import documents as document_rules
from services.application import lifecycle, numbering, origin, policy, rules, views
from services.application.lifecycle import MOVES
from services.application.models import (
    Application,
    Document,
    StatusChange,
    SubmissionEvidence,
)
from services.application.reference import exchange_rate_on, hs_exists
from services.chassis.blobs import BlobStore
from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, Conflict, NotFound, RuleViolation
from services.chassis.timestamps import INDIA, iso_z
from services.contracts import application_form as form

# Chosen before the number was given and fixed with it: the number names the agency and the
# scheme, the fee was billed for the office and the branch, and the office's officer examines it.
# An application sent back with a discrepancy keeps them.
FROZEN_AFTER_NUMBER = (
    "agency_code",
    "regional_office_code",
    "issuing_office_code",
    "agreement_code",
    "kind",
    "branch_id",
)
MAX_EXPORT_ROWS = 100_000


# --- access ------------------------------------------------------------------------------------


def load(session, actor, application_id) -> Application:
    """The application if ``actor`` may see it; not found otherwise."""
    application = session.get(Application, str(application_id))
    if application is None or not policy.may_see(actor, application):
        raise NotFound("no such application", code="APPLICATION_NOT_FOUND")
    return application


def _reload(session, actor, application_id) -> Application:
    """Read again from the database: after a commit in the middle of a call (sessions keep their
    objects, expire_on_commit=False), another request may have changed the row."""
    application = session.get(Application, str(application_id), populate_existing=True)
    if application is None or not policy.may_see(actor, application):
        raise NotFound("no such application", code="APPLICATION_NOT_FOUND")
    return application


def _editable(application):
    if application.status not in lifecycle.EDITABLE:
        raise Conflict(
            f"an application in status {application.status} cannot be changed",
            code="APPLICATION_NOT_EDITABLE",
        )


def _columns(application, data):
    """The columns lists filter on, derived from the form."""
    application.kind = data.get("kind")
    application.agreement_code = data.get("agreement_code")
    application.agency_code = data.get("agency_code")
    application.issuing_office_code = data.get("issuing_office_code")


# --- drafts ------------------------------------------------------------------------------------


def create_draft(uow, actor, body: dict) -> dict:
    policy.require_exporter(actor)
    data = load_form(body)
    now = utcnow()
    application = Application(
        id=str(uuid.uuid4()), iec=actor["username"], data=data, created_at=now, updated_at=now
    )
    _columns(application, data)
    uow.session.add(application)
    lifecycle.record(uow, application, MOVES["create"], actor, "created")
    return views.view(uow.session, application)


def load_form(body) -> dict:
    try:
        return form.dump(form.load_draft(body if isinstance(body, dict) else {}))
    except form.FormError as exc:
        raise BadRequest(
            "the application form has fields that are not valid", code="VALIDATION_ERROR", fields=exc.fields
        ) from None


def get_application(session, actor, application_id) -> dict:
    return views.view(session, load(session, actor, application_id))


def update_draft(uow, actor, application_id, body: dict) -> dict:
    """Replace the form of a draft (or of an application sent back with a discrepancy)."""
    policy.require_exporter(actor)
    application = load(uow.session, actor, application_id)
    _editable(application)
    data = load_form(body)
    if application.request_kind == "duplicate" and data != application.data:
        raise RuleViolation(
            "a duplicate repeats the original certificate; ask for a certificate in lieu to correct it",
            code="DUPLICATE_UNCHANGEABLE",
        )
    if application.number is not None:
        changed = [f for f in FROZEN_AFTER_NUMBER if data.get(f) != application.data.get(f)]
        if changed:
            raise RuleViolation(
                "these were fixed when the application got its number",
                code="APPLICATION_FIELD_FROZEN",
                fields={
                    f: [f"Cannot change after submission (was {application.data.get(f)!r})."] for f in changed
                },
            )
    application.data = data
    _columns(application, application.data)
    application.updated_at = utcnow()
    return views.view(uow.session, application)


def delete_draft(uow, actor, application_id) -> None:
    policy.require_exporter(actor)
    application = load(uow.session, actor, application_id)
    if application.status != MOVES["delete"].source:
        raise Conflict(
            "only a draft can be deleted; nothing else is ever deleted", code="APPLICATION_NOT_EDITABLE"
        )
    uow.session.delete(application)


def clone(uow, actor, application_id) -> dict:
    """A new draft with the form of an old application (documents are not copied: each
    shipment has its own invoice)."""
    policy.require_exporter(actor)
    source = load(uow.session, actor, application_id)
    now = utcnow()
    application = Application(
        id=str(uuid.uuid4()),
        iec=source.iec,
        data=dict(source.data),
        cloned_from=source.id,
        created_at=now,
        updated_at=now,
    )
    _columns(application, application.data)
    uow.session.add(application)
    lifecycle.record(uow, application, MOVES["clone"], actor, f"cloned from {source.number or source.id}")
    return views.view(uow.session, application)


# --- lists -------------------------------------------------------------------------------------

SORTS = {
    "created_at": Application.created_at,
    "updated_at": Application.updated_at,
    "number": Application.number,
    "submitted_at": Application.submitted_at,
    "paid_at": Application.paid_at,
}


def _filtered(actor, filters):
    query = select(Application).where(policy.visible(actor))
    if filters.get("status"):
        query = query.where(Application.status == filters["status"])
    if filters.get("agreement"):
        query = query.where(Application.agreement_code == filters["agreement"])
    if filters.get("agency"):
        query = query.where(Application.agency_code == filters["agency"])
    if filters.get("number"):
        query = query.where(Application.number.contains(filters["number"].upper(), autoescape=True))
    if filters.get("post_audit") is not None:
        query = query.where(Application.post_audit == bool(filters["post_audit"]))
    if filters.get("date_from"):
        query = query.where(Application.created_at >= _day_start(filters["date_from"], "date_from"))
    if filters.get("date_to"):
        end = _day_start(filters["date_to"], "date_to") + timedelta(days=1)
        query = query.where(Application.created_at < end)
    return query


FILTER_YEARS = (2000, 2100)  # no application is older; anything past is a typo or a probe


def _day_start(value, field) -> datetime:
    """The start of a day in India, as the naive UTC the tables store."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(
            f"{field} must be a date like 2026-11-25",
            code="VALIDATION_ERROR",
            fields={field: ["Not a date (YYYY-MM-DD)."]},
        ) from None
    first, last = FILTER_YEARS
    if not first <= day.year <= last:
        raise BadRequest(
            f"{field} must be a date between {first} and {last}",
            code="VALIDATION_ERROR",
            fields={field: [f"Not between {first}-01-01 and {last}-12-31."]},
        )
    start = datetime.combine(day, datetime.min.time(), tzinfo=INDIA)
    return start.astimezone(timezone.utc).replace(tzinfo=None)


def list_applications(session, actor, filters, page=1, per_page=50, sort="-created_at") -> dict:
    query = _filtered(actor, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(_ordered(query, sort).offset((page - 1) * per_page).limit(per_page)).all()
    return {"items": [views.summary(a) for a in rows], "page": page, "per_page": per_page, "total": total}


def _ordered(query, sort):
    descending = sort.startswith("-")
    column = SORTS.get(sort.lstrip("-"))
    if column is None:
        raise BadRequest(
            f"sort by one of {', '.join(SORTS)} (prefix - for descending)",
            code="VALIDATION_ERROR",
            fields={"sort": ["Unknown sort."]},
        )
    return query.order_by(column.desc() if descending else column.asc(), Application.id)


def export_xlsx(session, actor, filters, sort="-created_at") -> bytes:
    from services.application.spreadsheet import applications_xlsx

    rows = session.scalars(_ordered(_filtered(actor, filters), sort).limit(MAX_EXPORT_ROWS)).all()
    return applications_xlsx([views.summary(a) for a in rows])


def history(session, actor, application_id) -> list[dict]:
    application = load(session, actor, application_id)
    changes = session.scalars(
        select(StatusChange).where(StatusChange.application_id == application.id).order_by(StatusChange.id)
    ).all()
    return [
        {"from": c.from_status, "to": c.to_status, "actor": c.actor, "at": iso_z(c.at), "comment": c.comment}
        for c in changes
    ]


# --- documents -----------------------------------------------------------------------------------


def add_document(
    uow, actor, application_id, kind, filename, content: bytes, signature_b64, verify_signature, directors
) -> dict:
    """``verify_signature(data, signature_b64, iec, directors)`` is the signing service's check."""
    policy.require_exporter(actor)
    application = load(uow.session, actor, application_id)
    _editable(application)
    document_rules.check_kind(kind)
    checked = document_rules.check_pdf(content, filename)
    uow.commit()  # no connection held while the signing service checks the signature
    signer = verify_signature(content, signature_b64, application.iec, directors)
    application = _reload(uow.session, actor, application_id)
    _editable(application)
    BlobStore().put(content)
    known = uow.session.scalar(
        select(Document).where(
            Document.application_id == application.id,
            Document.kind == kind,
            Document.sha256 == checked["sha256"],
        )
    )
    if known is not None:
        return views.document_view(known)
    document = Document(
        id=str(uuid.uuid4()),
        application_id=application.id,
        kind=kind,
        filename=(filename or "document.pdf")[:255],
        sha256=checked["sha256"],
        size=checked["size"],
        pages=checked["pages"],
        signature=base64.b64decode(signature_b64),
        signer_subject=signer["subject"],
        uploaded_at=utcnow(),
    )
    uow.session.add(document)
    application.updated_at = utcnow()
    return views.document_view(document)


def _document(session, application, document_id) -> Document:
    document = session.get(Document, str(document_id))
    if document is None or document.application_id != application.id:
        raise NotFound("no such document", code="DOCUMENT_NOT_FOUND")
    return document


def remove_document(uow, actor, application_id, document_id) -> None:
    """A document uploaded by mistake goes, while the application may still be changed (a draft,
    or sent back with a discrepancy). Its file stays in the blob store, which other documents
    with the same content may share."""
    policy.require_exporter(actor)
    application = load(uow.session, actor, application_id)
    _editable(application)
    uow.session.delete(_document(uow.session, application, document_id))
    application.updated_at = utcnow()


def get_document(session, actor, application_id, document_id) -> dict:
    application = load(session, actor, application_id)
    document = _document(session, application, document_id)
    return {
        **views.document_view(document),
        "content": base64.b64encode(BlobStore().get(document.sha256)).decode(),
    }


# --- submission ----------------------------------------------------------------------------------


def _payload(application) -> bytes:
    return rules.signing_payload(application.data, application_id=application.id, iec=application.iec)


def signing_payload(session, actor, application_id) -> dict:
    policy.require_exporter(actor)
    application = load(session, actor, application_id)
    _editable(application)
    payload = _payload(application)
    return {"payload": base64.b64encode(payload).decode(), "sha256": hashlib.sha256(payload).hexdigest()}


def problems(session, application, exporter, offices) -> dict:
    """Every rule the application breaks, by field path; {} when it may be submitted."""
    has_invoice = (
        session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.application_id == application.id, Document.kind == "invoice")
        )
        > 0
    )
    return rules.check_submission(
        form.load_draft(application.data),
        hs_exists=lambda code: hs_exists(session, code),
        exchange_rate=lambda currency, on: exchange_rate_on(session, currency, on),
        exporter_branches={b["branch_id"] for b in exporter["branches"]},
        offices=offices,
        has_invoice_document=has_invoice,
        today=datetime.now(INDIA).date(),
    )


def submit(uow, actor, application_id, signature_b64, verify_signature, exporter, offices) -> dict:
    """Check every rule, check the exporter's DSC signature over the canonical payload, then give
    the number and move to pending_payment, all or nothing. Idempotent: a repeated submit of an
    application already submitted with the same payload answers as the first did."""
    move = MOVES["submit"]
    application = _signed_claim(
        uow, actor, application_id, signature_b64, verify_signature, exporter, offices, move
    )
    if application.status == move.source:
        application.number = numbering.next_number(uow.session, application, application.updated_at)
        application.submitted_at = application.updated_at
        lifecycle.record(uow, application, move, actor, "submitted with DSC")
    return views.view(uow.session, application)


def resubmit(uow, actor, application_id, signature_b64, verify_signature, exporter, offices) -> dict:
    """An application sent back with a discrepancy, edited and signed again over its new payload,
    returns to the issuing office's queue. It keeps its number and its payment (and so its place
    by ``paid_at``); the new signature is kept beside the first as evidence."""
    move = MOVES["resubmit"]
    application = _signed_claim(
        uow, actor, application_id, signature_b64, verify_signature, exporter, offices, move
    )
    if application.status == move.source:
        lifecycle.record(uow, application, move, actor, "resubmitted with DSC")
    return views.view(uow.session, application)


def _signed_claim(
    uow, actor, application_id, signature_b64, verify_signature, exporter, offices, move
) -> Application:
    """The signed ``move``: every rule checked, the DSC signature over the canonical payload
    verified, the move claimed and the evidence kept. Returns the application still in the
    move's source status for the caller to record the move, or, when this very signature
    already moved it (a retried request), the application as it is now."""
    from_status = move.source
    policy.require_exporter(actor)
    session = uow.session
    application = load(session, actor, application_id)
    if application.status != from_status and _same_evidence(session, application, signature_b64):
        return application
    if application.status != from_status:
        raise Conflict(
            f"an application in status {application.status} cannot be submitted",
            code="APPLICATION_NOT_EDITABLE",
        )
    found = problems(session, application, exporter, offices)
    if found:
        raise RuleViolation(
            "the application cannot be submitted yet", code="APPLICATION_INVALID", fields=found
        )
    payload = _payload(application)
    uow.commit()  # no connection held while the signing service checks the signature
    signer = verify_signature(payload, signature_b64, application.iec, [d for d in exporter["directors"]])

    application = _reload(session, actor, application_id)
    # Of two submissions racing (a retried request, a re-run RPC) only one moves the application
    # (and takes a number); one edited since it was signed moves not at all.
    claimed = lifecycle.claim(session, application, move, unchanged_since=application.updated_at)
    if not claimed or application.status != from_status or _payload(application) != payload:
        session.rollback()
        raise Conflict(
            "the application changed while it was being submitted; sign it again", code="APPLICATION_CHANGED"
        )
    session.refresh(application)
    session.add(
        SubmissionEvidence(
            application_id=application.id,
            payload=payload,
            signature=base64.b64decode(signature_b64),
            signer_subject=signer["subject"],
            signer_fingerprint=signer["fingerprint_sha256"],
            signed_at=application.updated_at,
        )
    )
    return application


def _same_evidence(session, application, signature_b64) -> bool:
    evidence = session.scalar(
        select(SubmissionEvidence)
        .where(SubmissionEvidence.application_id == application.id)
        .order_by(SubmissionEvidence.id.desc())
        .limit(1)
    )
    try:
        return evidence is not None and evidence.signature == base64.b64decode(signature_b64)
    except ValueError:
        return False


def mark_paid(uow, event) -> bool:
    """payment.payment_completed: the application goes to its issuing office's queue. Only a
    pending application moves, so a repeated event changes nothing."""
    session = uow.session
    move = MOVES["pay"]
    application = session.get(Application, event["application_id"])
    if (
        application is None
        or application.status != move.source
        or not lifecycle.claim(session, application, move)
    ):
        return False
    application.paid_at = application.updated_at
    lifecycle.record(
        uow,
        application,
        move,
        lifecycle.PAYMENT,
        f"fee paid: {event['total'] / 100:.2f} INR (payment {event['payment_id']})",
        agreement_code=application.agreement_code,
    )
    return True


def origin_check(session, actor, application_id) -> dict:
    application = load(session, actor, application_id)
    return origin.origin_check(form.load_draft(application.data))


def origin_check_form(actor, body) -> dict:
    """The origin check of a form not saved yet (the exporter's, as it is being filled): the
    same engine as a saved draft's, so what the form shows and what submission finds agree."""
    policy.require_exporter(actor)
    return origin.origin_check(form.load_draft(load_form(body)))
