"""The application lifecycle: its statuses, the one table of moves between them (who makes each
and what it announces), and the one way an application changes status.

    draft -> pending_payment -> submitted <-> discrepancy
                                submitted -> approved -> issued
                                submitted -> rejected

A duplicate or a certificate in lieu starts as pending_payment (its form is the original's, or
the original's corrected); an approved exporter's application is approved on payment by
self-certification. docs/architecture.md draws the table (a test keeps the drawing true).

A move is made in two steps within one transaction: ``claim`` takes the application out of the
move's source status with one conditional update (of two transactions trying at once, the second
finds the status changed and claims nothing), the caller checks and does what the move needs, and
``record`` writes the history row, sets the target status and announces the move's event. Plain
Python over the unit of work: no nameko. The statuses themselves are part of the published
language (``services/contracts/application_status.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import update

from services.application.models import Application, StatusChange
from services.chassis.database import utcnow
from services.contracts.actors import Actor, Role, system_actor
from services.contracts.application_status import Status


class Mover(str, enum.Enum):
    """Who makes a move: a person of a role, or the platform on an event."""

    EXPORTER = "exporter"
    OFFICER = "officer"
    PAYMENT = "payment"  # the payment service's payment_completed
    SELF_CERTIFICATION = "self-certification"  # an approved exporter's application, on payment
    CERTIFICATE = "certificate"  # the certificate service's certificate_issued


@dataclass(frozen=True)
class Move:
    name: str
    source: Status | None  # None: the move makes the application
    target: Status | None  # None: the move deletes it
    by: Mover
    emits: str | None = None  # the application.* event announcing it


MOVES = {
    move.name: move
    for move in (
        Move("create", None, Status.DRAFT, Mover.EXPORTER),
        Move("clone", None, Status.DRAFT, Mover.EXPORTER),
        Move("delete", Status.DRAFT, None, Mover.EXPORTER),
        Move("submit", Status.DRAFT, Status.PENDING_PAYMENT, Mover.EXPORTER),
        Move("request_duplicate", None, Status.PENDING_PAYMENT, Mover.EXPORTER),
        Move("replace_corrections", Status.PENDING_PAYMENT, Status.PENDING_PAYMENT, Mover.EXPORTER),
        Move("pay", Status.PENDING_PAYMENT, Status.SUBMITTED, Mover.PAYMENT, "application_submitted"),
        Move("raise_discrepancy", Status.SUBMITTED, Status.DISCREPANCY, Mover.OFFICER, "discrepancy_raised"),
        Move("resubmit", Status.DISCREPANCY, Status.SUBMITTED, Mover.EXPORTER, "application_resubmitted"),
        Move("approve", Status.SUBMITTED, Status.APPROVED, Mover.OFFICER, "application_approved"),
        Move(
            "self_certify",
            Status.SUBMITTED,
            Status.APPROVED,
            Mover.SELF_CERTIFICATION,
            "application_approved",
        ),
        Move("reject", Status.SUBMITTED, Status.REJECTED, Mover.OFFICER, "application_rejected"),
        Move("issue", Status.APPROVED, Status.ISSUED, Mover.CERTIFICATE),
    )
}

# What the exporter may still edit, and where the officer's queue is.
EDITABLE = (Status.DRAFT, Status.DISCREPANCY)
QUEUE = Status.SUBMITTED

# The platform's own actors, as services see callers.
PAYMENT = system_actor(Mover.PAYMENT.value)
SELF_CERTIFICATION = system_actor(Mover.SELF_CERTIFICATION.value)
CERTIFICATE = system_actor(Mover.CERTIFICATE.value)


def mover_of(actor: Actor) -> Mover:
    return Mover(actor["username"] if actor["role"] == Role.SYSTEM else actor["role"])


def claim(session, application: Application, move: Move, unchanged_since=None) -> bool:
    """Take ``application`` out of the move's source status, with one conditional update (and,
    given ``unchanged_since``, only if it was not updated after it); False when someone else
    moved or changed it first."""
    if move.source is None:
        raise ValueError(f"{move.name} makes an application: there is nothing to claim")
    session.flush()
    now = utcnow()
    conditions = [Application.id == application.id, Application.status == move.source.value]
    if unchanged_since is not None:
        conditions.append(Application.updated_at == unchanged_since)
    claimed = (
        session.execute(
            update(Application)
            .where(*conditions)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if claimed:
        application.updated_at = now
    return claimed


def record(uow, application: Application, move: Move, actor: Actor, why: str = "", **event_fields) -> None:
    """The move made: its history row (``why`` as its comment), the target status, and its
    event (with ``event_fields`` beside the application's own). The caller claimed it, or made
    the application, in this transaction."""
    if mover_of(actor) is not move.by:
        raise ValueError(f"{move.name} is made by {move.by.value}, not {actor['username']}")
    if move.target is None:
        raise ValueError(f"{move.name} deletes the application: there is no history to write")
    uow.session.add(
        StatusChange(
            application_id=application.id,
            from_status=application.status,
            to_status=move.target.value,
            actor=actor["username"],
            at=utcnow(),
            comment=why,
        )
    )
    application.status = move.target.value
    if move.emits:
        announce(uow, move.emits, application, **event_fields)


def announce(uow, event_type: str, application: Application, **fields) -> None:
    """An application event in the outbox: every one carries the application, its exporter, and
    its issuing agency and office (agencies' systems bind by the last two)."""
    uow.emit(
        event_type,
        {
            "application_id": application.id,
            "application_number": application.number,
            "iec": application.iec,
            "agency_code": application.agency_code,
            "issuing_office_code": application.issuing_office_code,
            **fields,
        },
    )


def mermaid() -> str:
    """The table as a mermaid state diagram (docs/architecture.md carries it)."""
    lines = ["stateDiagram-v2"]
    for move in MOVES.values():
        source = move.source.value if move.source else "[*]"
        target = move.target.value if move.target else "[*]"
        event = f" / {move.emits}" if move.emits else ""
        lines.append(f"    {source} --> {target}: {move.name} ({move.by.value}){event}")
    return "\n".join(lines)
