"""Officer examination (architecture §5): the issuing office's queue, discrepancies, approval and
rejection, turnaround statistics, the approved exporters whose applications are self-certified,
and what the certificate service reads and reports back. Service-layer functions over the unit of
work, as in ``applications.py``; the percentile arithmetic at the end is plain Python.

An officer reaches only its own issuing office's applications: any other is "not found", as for
exporters. A decision is claimed with one conditional update on the status, so of two officers
deciding the same application at once one decides and the other gets 409 APPLICATION_NOT_PENDING.
"""

import logging
import math
from datetime import timedelta

from sqlalchemy import func, select

from services.application import lifecycle, policy, reference
from services.application.applications import export_xlsx, list_applications, load, mark_paid
from services.application.lifecycle import CERTIFICATE, MOVES, QUEUE, SELF_CERTIFICATION, Status
from services.application.models import AgreementRecord, Application, SelfCertification
from services.application.views import view
from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, Conflict, NotFound, RuleViolation
from services.chassis.timestamps import iso_z

log = logging.getLogger(__name__)

QUEUE_SORT = "paid_at"  # first paid, first examined
STATS_DAYS = 90
MAX_STATS_DAYS = 366


# --- the queue -----------------------------------------------------------------------------------


def queue(session, actor, filters, page=1, per_page=50) -> dict:
    """The officer's issuing office's applications awaiting examination (or of the status asked
    for), oldest payment first."""
    policy.require_officer(actor)
    return list_applications(session, actor, _queue_filters(filters), page, per_page, QUEUE_SORT)


def queue_xlsx(session, actor, filters) -> bytes:
    policy.require_officer(actor)
    return export_xlsx(session, actor, _queue_filters(filters), QUEUE_SORT)


def _queue_filters(filters) -> dict:
    # Self-certified applications awaiting post-audit are approved (or issued since), never
    # submitted: asked for alone, they come in every status.
    default = {} if filters.get("post_audit") else {"status": QUEUE.value}
    return {**default, **filters}


# --- decisions -----------------------------------------------------------------------------------


def _pending(session, actor, application_id, move) -> Application:
    """The application in the queue, claimed for the officer's ``move``."""
    policy.require_officer(actor)
    application = load(session, actor, application_id)
    if application.status != move.source or not lifecycle.claim(session, application, move):
        raise Conflict(
            "the application is not awaiting examination (it may just have been decided by another officer)",
            code="APPLICATION_NOT_PENDING",
        )
    return application


def raise_discrepancy(uow, actor, application_id, comment) -> dict:
    """Send the application back to the exporter, who edits it and resubmits with the DSC."""
    move = MOVES["raise_discrepancy"]
    application = _pending(uow.session, actor, application_id, move)
    lifecycle.record(uow, application, move, actor, comment, comment=comment)
    return view(uow.session, application)


def request_original(session, actor, application_id) -> str | None:
    """The number of the certificate a duplicate or in-lieu request was made from (None for an
    application of its own), for the officer who may examine it."""
    policy.require_officer(actor)
    application = load(session, actor, application_id)
    return application.original_number if application.request_kind else None


def _approved_in_lieu(session, request) -> str | None:
    """The number of another in-lieu of the same original, approved and awaiting issuance."""
    return session.scalar(
        select(Application.number)
        .where(
            Application.original_application_id == request.original_application_id,
            Application.request_kind == "in_lieu",
            Application.status == Status.APPROVED.value,
            Application.id != request.id,
        )
        .limit(1)
    )


def approve(uow, actor, application_id, remarks=None, original_status=None) -> dict:
    """``original_status``: for a duplicate or in-lieu, the registry's status of the original
    now. Approving one from an original revoked or superseded meanwhile would issue nothing (the
    registry refuses), so the officer hears it here and rejects the request instead."""
    application = _pending(uow.session, actor, application_id, MOVES["approve"])
    if application.request_kind:
        replacing = _approved_in_lieu(uow.session, application)
        if replacing is not None:  # it supersedes the original as soon as it is issued
            original_status = f"being replaced by {replacing}"
        if original_status != "valid":
            raise Conflict(
                f"the original certificate {application.original_number} is "
                f"{original_status or 'not in the registry'}: nothing can be issued "
                "from it; reject the request with the reason",
                code="ORIGINAL_NOT_VALID",
            )
    _decide(uow, application, MOVES["approve"], actor, remarks or "approved", remarks=remarks or None)
    return view(uow.session, application)


def reject(uow, actor, application_id, reason) -> dict:
    application = _pending(uow.session, actor, application_id, MOVES["reject"])
    _decide(uow, application, MOVES["reject"], actor, reason, remarks=reason)
    return view(uow.session, application)


def _decide(uow, application, move, actor, why, remarks=None, post_audit=False):
    """Record the decision on a claimed application: who and when are kept on the row (the time
    from ``paid_at`` is the office's turnaround), the history says why."""
    application.decided_by = actor["username"]
    application.decided_at = application.updated_at
    application.remarks = remarks
    application.post_audit = post_audit
    event = {"reason": why} if move.target is Status.REJECTED else {"officer": actor["username"]}
    lifecycle.record(uow, application, move, actor, why, **event)


# --- self-certification ---------------------------------------------------------------------------


def payment_completed(uow, event) -> None:
    """payment.payment_completed: the application goes to its office's queue, or, for an approved
    exporter of the agency under an agreement that allows it, is approved at once and marked for
    post-audit. Both in one transaction, so it is never seen submitted and forgotten."""
    if not mark_paid(uow, event):
        return
    application = uow.session.get(Application, event["application_id"])
    move = MOVES["self_certify"]
    if self_certifies(uow.session, application) and lifecycle.claim(uow.session, application, move):
        _decide(
            uow,
            application,
            move,
            SELF_CERTIFICATION,
            "approved exporter: self-certified, for post-audit",
            post_audit=True,
        )


def self_certifies(session, application) -> bool:
    if application.kind != "preferential" or not application.agreement_code:
        return False
    if application.request_kind is not None:
        # A duplicate or an in-lieu (which supersedes the original with corrected particulars)
        # goes through an officer, self-certified original or not.
        return False
    # The agreement table, not agreements.py: it is what exporters are shown.
    agreement = session.get(AgreementRecord, application.agreement_code)
    if agreement is None or not agreement.data.get("allows_self_certification"):
        return False
    return session.get(SelfCertification, (application.iec, application.agency_code)) is not None


def _flag_view(row) -> dict:
    return {
        "iec": row.iec,
        "agency_code": row.agency_code,
        "flagged_by": row.flagged_by,
        "flagged_at": iso_z(row.flagged_at),
    }


def list_self_certification(session, actor) -> list[dict]:
    agency_code = policy.agency_scope(actor)
    query = select(SelfCertification).order_by(SelfCertification.agency_code, SelfCertification.iec)
    if agency_code:
        query = query.where(SelfCertification.agency_code == agency_code)
    return [_flag_view(r) for r in session.scalars(query)]


def flag_self_certification(session, actor, iec, agency_code, agency_codes, exporter_registered) -> dict:
    """Make ``iec`` an approved exporter of ``agency_code``. Flagging again changes nothing (the
    pair is the key), so a retried request is harmless.
    ``exporter_registered(iec)`` asks registration."""
    policy.require_manager_of(actor, agency_code)
    if agency_code not in agency_codes:
        raise RuleViolation(
            f"no agency {agency_code}",
            code="AGENCY_UNKNOWN",
            fields={"agency_code": ["Not an issuing agency."]},
        )
    existing = session.get(SelfCertification, (iec, agency_code))
    if existing is not None:
        return _flag_view(existing)
    if not exporter_registered(iec):
        raise RuleViolation(
            f"IEC {iec} is not a registered exporter",
            code="EXPORTER_UNKNOWN",
            fields={"iec": ["Not a registered exporter."]},
        )
    row = SelfCertification(
        iec=iec, agency_code=agency_code, flagged_by=actor["username"], flagged_at=utcnow()
    )
    session.add(row)
    return _flag_view(row)


def unflag_self_certification(session, actor, agency_code, iec) -> None:
    """Applications approved under the flag stay approved (and marked for post-audit)."""
    policy.require_manager_of(actor, agency_code)
    row = session.get(SelfCertification, (iec, agency_code))
    if row is None:
        raise NotFound(
            f"{iec} is not an approved exporter of {agency_code}", code="SELF_CERTIFICATION_NOT_FOUND"
        )
    session.delete(row)


# --- turnaround ----------------------------------------------------------------------------------


def stats(session, actor, days=STATS_DAYS) -> dict:
    """Per issuing office: applications waiting now, and the officers' decisions of the last
    ``days`` days with their turnaround (payment to decision). Self-certified approvals are
    counted apart: no officer made them, and their zero turnaround would flatter the office.

    The percentiles are computed here in Python from the window's decided rows: a few thousand
    rows per office and quarter, which needs no percentile support from the database (SQLite has
    none)."""
    agency_code = policy.agency_scope(actor)
    if not 1 <= days <= MAX_STATS_DAYS:
        raise BadRequest(
            f"days must be 1 to {MAX_STATS_DAYS}",
            code="VALIDATION_ERROR",
            fields={"days": [f"Must be from 1 to {MAX_STATS_DAYS}."]},
        )
    scope = [Application.agency_code == agency_code] if agency_code else []
    office = (Application.agency_code, Application.issuing_office_code)
    waiting = session.execute(
        select(*office, func.count()).where(Application.status == QUEUE.value, *scope).group_by(*office)
    ).all()
    decided = session.execute(
        select(*office, Application.paid_at, Application.decided_at, Application.post_audit).where(
            Application.decided_at >= utcnow() - timedelta(days=days), *scope
        )
    ).all()
    return {"days": days, "offices": office_stats(waiting, decided)}


def office_stats(waiting, decided) -> list[dict]:
    """``waiting``: (agency, office, count) rows; ``decided``: (agency, office, paid_at,
    decided_at, post_audit) rows. One entry per office that has either, by office code."""
    offices: dict[tuple, dict] = {}

    def entry(agency, office):
        return offices.setdefault(
            (agency, office),
            {
                "issuing_office_code": office,
                "agency_code": agency,
                "waiting": 0,
                "decided": 0,
                "self_certified": 0,
                "hours": [],
            },
        )

    for agency, office, count in waiting:
        entry(agency, office)["waiting"] = count
    for agency, office, paid_at, decided_at, post_audit in decided:
        row = entry(agency, office)
        if post_audit:
            row["self_certified"] += 1
        else:
            row["decided"] += 1
            row["hours"].append(turnaround_hours(paid_at, decided_at))
    result = []
    for key in sorted(offices, key=lambda k: (k[1] or "", k[0] or "")):
        row = offices[key]
        hours = row.pop("hours")
        row["turnaround_median_hours"] = _rounded(percentile(hours, 50))
        row["turnaround_p90_hours"] = _rounded(percentile(hours, 90))
        result.append(row)
    return result


def turnaround_hours(paid_at, decided_at) -> float:
    return (decided_at - paid_at).total_seconds() / 3600


def percentile(values, q) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between the closest ranks (the
    "inclusive" method: NumPy's default, Excel's PERCENTILE.INC); None for no values. The median
    is the 50th."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rounded(hours):
    return None if hours is None else round(hours, 2)


# --- for the certificate service ---------------------------------------------------------------


def certificate_particulars(session, application_id) -> dict:
    """Internal (the certificate service, not the gateway): what a certificate is made from,
    with its agreement (``agreement_as_dict``; None for a non-preferential certificate)."""
    application = session.get(Application, str(application_id))
    if application is None:
        raise NotFound("no such application", code="APPLICATION_NOT_FOUND")
    code = application.agreement_code
    return {
        "id": application.id,
        "number": application.number,
        "iec": application.iec,
        "status": application.status,
        "kind": application.kind,
        "agreement_code": code,
        "agreement": reference.get_agreement(session, code) if code else None,
        "agency_code": application.agency_code,
        "issuing_office_code": application.issuing_office_code,
        "form": application.data,
        "request_kind": application.request_kind,
        "original_number": application.original_number,
        "decided_by": application.decided_by,
        "decided_at": iso_z(application.decided_at),
        "remarks": application.remarks,
        "post_audit": bool(application.post_audit),
        "paid_at": iso_z(application.paid_at),
    }


def certificate_issued(uow, event) -> bool:
    """certificate.certificate_issued: approved -> issued, with the certificate's number. A
    repeated event (or a second one for the same application) changes nothing."""
    session = uow.session
    application = session.get(Application, event["application_id"])
    number = event["certificate_number"]
    move = MOVES["issue"]
    if (
        application is None
        or application.status != move.source
        or not lifecycle.claim(session, application, move)
    ):
        if application is None or application.certificate_number != number:
            log.warning(
                "certificate %s issued for application %s, which is %s; ignored",
                number,
                event["application_id"],
                application.status if application else "unknown",
            )
        return False
    application.certificate_number = number
    lifecycle.record(uow, application, move, CERTIFICATE, f"certificate {number} issued")
    return True
