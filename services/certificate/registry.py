"""The certificate registry: issuing (exactly once per application), reading, verifying and
revoking certificates (architecture §7, §8). Functions over the unit of work; the PDF is
``rendering.py``'s, the signature the signing service's, the file bytes the blob store's.

Who sees what: the exporter its own IEC's certificates, an officer its issuing office's, an
agency admin its agency's (for revocation); anything else is "not found". Verification is public
and shows only what a customs officer abroad needs: status, dates, exporter, importing country.
"""

import re
import uuid
from datetime import timezone
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.certificate import policy
from services.certificate.models import Certificate
from services.chassis import config
from services.chassis.blobs import BlobStore
from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, Conflict, NotFound
from services.chassis.timestamps import INDIA

MARKINGS = {"duplicate": lambda original: "DUPLICATE", "in_lieu": lambda original: f"IN LIEU OF {original}"}
MAX_PER_PAGE = 200
REASON_MAX = 2000


def verify_url(number: str) -> str:
    return f"{config.public_url()}/api/v1/verify?number={quote(number, safe='')}"


def india_date(moment) -> str:
    return moment.replace(tzinfo=timezone.utc).astimezone(INDIA).date().isoformat()


def kind_of(particulars) -> str:
    return particulars.get("request_kind") or "original"


def marking(particulars) -> str | None:
    make = MARKINGS.get(kind_of(particulars))
    return make(particulars.get("original_number")) if make else None


# --- issuing ------------------------------------------------------------------------------------


def issued_for(session, application_id) -> Certificate | None:
    return session.scalar(select(Certificate).where(Certificate.application_id == application_id))


def record_issue(uow, particulars, exporter, signed_pdf: bytes) -> tuple[Certificate | None, bool]:
    """Store the signed PDF and register it, with ``certificate_issued`` in the same commit.
    Returns (certificate, newly issued). A racing or repeated issuance of the same application
    finds the first one's row and publishes nothing."""
    session = uow.session
    existing = issued_for(session, particulars["id"])
    if existing is not None:
        return existing, False
    if kind_of(particulars) != "original":
        try:
            _check_original_valid(session, particulars["original_number"])
        except Conflict:
            # A twin delivery of this approval may have issued it, superseding the original.
            existing = issued_for(session, particulars["id"])
            if existing is None:
                raise
            return existing, False
    sha256 = BlobStore().put(signed_pdf)  # before the row: a registered hash always has its file
    now = utcnow()
    certificate = Certificate(
        id=str(uuid.uuid4()),
        number=particulars["number"],
        application_id=particulars["id"],
        iec=particulars["iec"],
        exporter_name=exporter["name"],
        importer_country=particulars["form"]["importer"]["country"],
        agreement_code=particulars.get("agreement_code"),
        agency_code=particulars["agency_code"],
        issuing_office_code=particulars["issuing_office_code"],
        kind=kind_of(particulars),
        original_number=particulars.get("original_number"),
        sha256=sha256,
        size=len(signed_pdf),
        status="valid",
        issued_at=now,
        issued_by=particulars.get("decided_by") or "",
    )
    session.add(certificate)
    try:
        session.flush()  # before the supersession below, whose statement would flush it outside
    except IntegrityError:
        session.rollback()
        return issued_for(session, particulars["id"]), False
    if certificate.kind == "in_lieu":
        # The corrected certificate replaces the original and its duplicates in the registry.
        session.execute(
            update(Certificate)
            .where(
                (Certificate.number == certificate.original_number)
                | (
                    (Certificate.original_number == certificate.original_number)
                    & (Certificate.kind == "duplicate")
                ),
                Certificate.status == "valid",
            )
            .values(
                status="superseded",
                superseded_by=certificate.number,
                status_reason=f"superseded by {certificate.number}",
            )
        )
    uow.emit(
        "certificate_issued",
        {
            "certificate_id": certificate.id,
            "certificate_number": certificate.number,
            "application_id": certificate.application_id,
            "iec": certificate.iec,
            "sha256": sha256,
            "url": verify_url(certificate.number),
            "agency_code": certificate.agency_code,
            "issuing_office_code": certificate.issuing_office_code,
        },
    )
    return certificate, True


def _check_original_valid(session, original_number):
    """A duplicate or replacement is issued only while its original stands: one revoked or
    replaced meanwhile leaves the approval for the agency to look at (the event retries, then
    waits in the dead letters)."""
    status = session.scalar(select(Certificate.status).where(Certificate.number == original_number))
    if status != "valid":
        raise Conflict(
            f"the original certificate {original_number} is {status or 'unknown'}; nothing issued",
            code="ORIGINAL_NOT_VALID",
        )


# --- reading ------------------------------------------------------------------------------------


def _load(session, actor, certificate_id) -> Certificate:
    certificate = session.scalar(
        select(Certificate).where(Certificate.id == str(certificate_id), policy.visible(actor))
    )
    if certificate is None:
        raise NotFound("no such certificate", code="CERTIFICATE_NOT_FOUND")
    return certificate


def view(certificate: Certificate) -> dict:
    return {
        "id": certificate.id,
        "number": certificate.number,
        "application_id": certificate.application_id,
        "iec": certificate.iec,
        "exporter_name": certificate.exporter_name,
        "importer_country": certificate.importer_country,
        "agreement_code": certificate.agreement_code,
        "agency_code": certificate.agency_code,
        "issuing_office_code": certificate.issuing_office_code,
        "kind": certificate.kind,
        "original_number": certificate.original_number,
        "sha256": certificate.sha256,
        "size": certificate.size,
        "status": certificate.status,
        "status_reason": certificate.status_reason,
        "superseded_by": certificate.superseded_by,
        "issued_at": certificate.issued_at.isoformat() + "Z",
        "issued_on": india_date(certificate.issued_at),
        "issued_by": certificate.issued_by,
        "verify_url": verify_url(certificate.number),
    }


def list_certificates(session, actor, page=1, per_page=50, status=None, number=None) -> dict:
    page, per_page = max(1, int(page)), min(MAX_PER_PAGE, max(1, int(per_page)))
    query = select(Certificate).where(policy.visible(actor))
    if status:
        query = query.where(Certificate.status == status)
    if number:  # staff finding the one to revoke: numbers are unique, so one or none
        query = query.where(Certificate.number == number.strip())
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.order_by(Certificate.issued_at.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return {"items": [view(c) for c in rows], "page": page, "per_page": per_page, "total": total}


def get_certificate(session, actor, certificate_id) -> dict:
    return view(_load(session, actor, certificate_id))


def certificate_pdf(session, actor, certificate_id) -> tuple[dict, bytes]:
    certificate = _load(session, actor, certificate_id)
    return view(certificate), BlobStore().get(certificate.sha256)


def certificate_file(session, certificate_id) -> tuple[Certificate, bytes]:
    """Internal (no actor): the registered certificate and its signed PDF, for the notification
    service to attach to the exporter's email. NotFound for an unknown id."""
    certificate = session.get(Certificate, str(certificate_id))
    if certificate is None:
        raise NotFound("no such certificate", code="CERTIFICATE_NOT_FOUND")
    return certificate, BlobStore().get(certificate.sha256)


def certificate_for_request(session, actor, certificate_id) -> dict:
    """The certificate a duplicate or in-lieu request starts from: the exporter's own, valid."""
    policy.require_requester(actor)
    certificate = _load(session, actor, certificate_id)
    if certificate.status != "valid":
        raise Conflict(
            f"a {certificate.status} certificate cannot be duplicated or replaced",
            code="CERTIFICATE_NOT_VALID",
        )
    return view(certificate)


# --- verification (public) ----------------------------------------------------------------------


def public_view(certificate: Certificate) -> dict:
    return {
        "number": certificate.number,
        "status": certificate.status,
        "status_reason": certificate.status_reason if certificate.status != "valid" else None,
        "superseded_by": certificate.superseded_by,
        "kind": certificate.kind,
        "original_number": certificate.original_number,
        "issued_on": india_date(certificate.issued_at),
        "exporter": certificate.exporter_name,
        "iec": certificate.iec,
        "importer_country": certificate.importer_country,
        "agreement_code": certificate.agreement_code,
        "agency_code": certificate.agency_code,
        "sha256": certificate.sha256,
    }


def verify_number(session, number) -> dict:
    number = (number or "").strip()
    if not number or len(number) > 80:
        raise BadRequest(
            "give the certificate number",
            code="VALIDATION_ERROR",
            fields={"number": ["Required, at most 80 characters."]},
        )
    certificate = session.scalar(select(Certificate).where(Certificate.number == number))
    if certificate is None:
        raise NotFound("no certificate has this number", code="CERTIFICATE_NOT_FOUND")
    return public_view(certificate)


def entry_by_sha256(session, sha256) -> dict | None:
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise BadRequest(
            "sha256 must be 64 lowercase hex digits", fields={"sha256": ["64 lowercase hex digits"]}
        )
    certificate = session.scalar(select(Certificate).where(Certificate.sha256 == sha256).limit(1))
    return public_view(certificate) if certificate else None


# --- revocation ---------------------------------------------------------------------------------


def revoke(uow, actor, certificate_id, reason) -> dict:
    policy.require_revoker(actor)
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise BadRequest(
            "give the reason for revoking",
            code="VALIDATION_ERROR",
            fields={"reason": [f"Required, at most {REASON_MAX} characters."]},
        )
    session = uow.session
    certificate = _load(session, actor, certificate_id)
    done = session.execute(
        update(Certificate)
        .where(Certificate.id == certificate.id, Certificate.status == "valid")
        .values(status="revoked", revoked_at=utcnow(), revoked_by=actor["username"], status_reason=reason)
    ).rowcount
    if done != 1:
        raise Conflict(f"the certificate is {certificate.status} already", code="CERTIFICATE_NOT_VALID")
    session.refresh(certificate)
    uow.emit(
        "certificate_revoked",
        {
            "certificate_id": certificate.id,
            "certificate_number": certificate.number,
            "reason": reason,
            "agency_code": certificate.agency_code,
            "issuing_office_code": certificate.issuing_office_code,
        },
    )
    return view(certificate)
