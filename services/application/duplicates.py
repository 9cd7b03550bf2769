"""Duplicate and in-lieu certificates (architecture §4 "Application number", §5).

From an issued certificate the exporter asks for
- a duplicate (the original was lost or damaged): the same particulars, marked "DUPLICATE";
- a certificate in lieu (the original had an error): the particulars with the corrections,
  marked "IN LIEU OF <number>"; once issued it supersedes the original in the registry.

Each request is an application of its own with the original's number plus ``/{SEQ:08d}``, its own
fee (the schedule's duplicate or in-lieu line) and payment; it then goes through the issuing
office's queue like any application. The agency, office, agreement and branch stay the
original's: the number and the fee were given for them.
"""

import base64
import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.application import documents as document_rules
from services.application import lifecycle, policy
from services.application.applications import FROZEN_AFTER_NUMBER, load_form, problems
from services.application.lifecycle import MOVES, Status
from services.application.models import Application, Document
from services.application.views import view
from services.chassis.blobs import BlobStore
from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, Conflict, NotFound, RuleViolation

REQUEST_KINDS = ("duplicate", "in_lieu")
REASON_MAX = 1800  # the history comment adds the kind and the number, within 2000


def _original(session, actor, certificate) -> Application:
    original = session.get(Application, certificate["application_id"])
    if original is None or original.iec != actor["username"]:
        raise NotFound("no such certificate", code="CERTIFICATE_NOT_FOUND")
    return original


def _checked(kind, reason, corrections):
    fields = {}
    if kind not in REQUEST_KINDS:
        fields["kind"] = [f"One of {', '.join(REQUEST_KINDS)}."]
    if not (reason or "").strip() or len(reason) > REASON_MAX:
        fields["reason"] = [f"Required, at most {REASON_MAX} characters."]
    if kind == "duplicate" and corrections:
        fields["form"] = ["A duplicate repeats the original; ask for a certificate in lieu to correct it."]
    if kind == "in_lieu" and not corrections:
        fields["form"] = ["Give the corrected fields of the certificate in lieu."]
    if fields:
        raise BadRequest("the request is not valid", code="VALIDATION_ERROR", fields=fields)


def _corrected(original, corrections) -> dict:
    """The original's form with the corrected top-level fields; the fixed ones may not change."""
    frozen = [f for f in FROZEN_AFTER_NUMBER if f in corrections and corrections[f] != original.data.get(f)]
    if frozen:
        raise RuleViolation(
            "these were fixed with the original's number",
            code="APPLICATION_FIELD_FROZEN",
            fields={f: ["Cannot change in a certificate in lieu."] for f in frozen},
        )
    return load_form({**original.data, **corrections})


def open_request(session, original, kind) -> Application | None:
    """A request of this kind still awaiting payment: a retried request finds it again."""
    return session.scalar(
        select(Application)
        .where(
            Application.original_application_id == original.id,
            Application.request_kind == kind,
            Application.status == Status.PENDING_PAYMENT.value,
        )
        .limit(1)
    )


def request(
    uow, actor, certificate, kind, reason, corrections, exporter, offices, supporting=None
) -> tuple[dict, bool]:
    """The request as an application awaiting payment. ``supporting`` is an optional signed PDF
    already verified by the signing service: {filename, content, signature_b64, signer}.
    Returns (its view, whether it is new)."""
    policy.require_requester(actor)
    _checked(kind, reason, corrections)
    session = uow.session
    original = _original(session, actor, certificate)
    if original.status != Status.ISSUED:
        raise Conflict(
            "only an issued certificate can be duplicated or replaced", code="CERTIFICATE_NOT_VALID"
        )
    if original.request_kind is not None:
        # One family per original: its duplicates and its replacement all hang from it.
        raise Conflict(
            f"ask from the original certificate {original.original_number}", code="CERTIFICATE_NOT_ORIGINAL"
        )
    data = _corrected(original, corrections) if kind == "in_lieu" else dict(original.data)
    existing = open_request(session, original, kind)
    if existing is not None:
        # Only an in-lieu's particulars can differ from the original's.
        corrected = existing.data != data
        if (corrected or supporting) and not lifecycle.claim(session, existing, MOVES["replace_corrections"]):
            # Claimed while unpaid: once paid it is the officer's, and it changes no more.
            raise Conflict(
                "the request was paid meanwhile and is with the officer; ask again once it is decided",
                code="REQUEST_OPEN",
            )
        if corrected:
            _replace_corrections(uow, actor, existing, data, reason, exporter, offices)
        if supporting:
            _add_supporting(session, existing, supporting)
        return view(session, existing), False
    now = utcnow()
    sequence = (
        session.scalar(
            select(func.count())
            .select_from(Application)
            .where(Application.original_application_id == original.id)
        )
        + 1
    )
    application = Application(
        id=str(uuid.uuid4()),
        iec=original.iec,
        kind=original.kind,
        agreement_code=original.agreement_code,
        agency_code=original.agency_code,
        issuing_office_code=original.issuing_office_code,
        number=f"{original.number}/{sequence:08d}",
        data=data,
        created_at=now,
        updated_at=now,
        submitted_at=now,
        request_kind=kind,
        original_application_id=original.id,
        original_number=certificate["number"],
        request_reason=reason.strip(),
    )
    session.add(application)
    lifecycle.record(
        uow,
        application,
        MOVES["request_duplicate"],
        actor,
        f"{kind.replace('_', '-')} of {certificate['number']} requested: {reason.strip()}",
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "another request for this certificate was made at the same moment; look at your applications",
            code="REQUEST_OPEN",
        ) from None
    _copy_documents(session, original, application)
    if supporting:
        _add_supporting(session, application, supporting)
    if kind == "in_lieu":
        _check_corrected(session, application, exporter, offices)
    return view(session, application), True


def _replace_corrections(uow, actor, request, data, reason, exporter, offices) -> None:
    """An in-lieu still awaiting payment (claimed by the caller) takes the corrections asked for
    last, so a mistake in the first ones is mended without paying for a wrong certificate."""
    request.data, request.request_reason = data, reason.strip()
    lifecycle.record(
        uow,
        request,
        MOVES["replace_corrections"],
        actor,
        f"corrections replaced before payment: {reason.strip()}",
    )
    _check_corrected(uow.session, request, exporter, offices)


def _check_corrected(session, request, exporter, offices) -> None:
    """Every rule of an application holds for the corrected particulars (else nothing stays)."""
    session.flush()
    found = problems(session, request, exporter, offices)
    if found:
        raise RuleViolation(
            "the corrected certificate breaks the rules", code="APPLICATION_INVALID", fields=found
        )


def _copy_documents(session, original, application):
    """The original's documents stand for the request too (same stored files)."""
    for document in session.scalars(select(Document).where(Document.application_id == original.id)):
        session.add(
            Document(
                id=str(uuid.uuid4()),
                application_id=application.id,
                kind=document.kind,
                filename=document.filename,
                sha256=document.sha256,
                size=document.size,
                pages=document.pages,
                signature=document.signature,
                signer_subject=document.signer_subject,
                uploaded_at=document.uploaded_at,
            )
        )


def check_supporting(filename, content):
    return document_rules.check_pdf(content, filename)


def _add_supporting(session, application, supporting):
    """The signed document given with a request; the same file given again (a retried request)
    is kept once."""
    checked = supporting["checked"]
    if session.scalar(
        select(Document.id)
        .where(
            Document.application_id == application.id,
            Document.kind == "other",
            Document.sha256 == checked["sha256"],
        )
        .limit(1)
    ):
        return
    BlobStore().put(supporting["content"])
    session.add(
        Document(
            id=str(uuid.uuid4()),
            application_id=application.id,
            kind="other",
            filename=(supporting["filename"] or "supporting.pdf")[:255],
            sha256=checked["sha256"],
            size=checked["size"],
            pages=checked["pages"],
            signature=base64.b64decode(supporting["signature_b64"]),
            signer_subject=supporting["signer"]["subject"],
            uploaded_at=utcnow(),
        )
    )
