"""Who may do what with fees and payments: an agency's fee schedule is its admins' (and the
admin's, who sees every agency's); the exporter pays; a receipt is its exporter's and its issuing
office's officers'. Plain Python."""

from services.chassis.errors import Forbidden
from services.contracts.actors import Actor, Role, manages_agency


def require_manager_of(actor: Actor, agency_code: str | None) -> None:
    if not manages_agency(actor, agency_code):
        raise Forbidden("only an admin or this agency's admin may do this", code="FORBIDDEN")


def schedule_scope(actor: Actor, agency_code: str | None) -> str | None:
    """Whose fee schedule ``actor`` lists: an agency admin always its own agency's."""
    if actor["role"] == Role.AGENCY_ADMIN:
        return actor.get("agency")
    if actor["role"] != Role.ADMIN:
        raise Forbidden("only admins keep the fee schedule", code="FORBIDDEN")
    return agency_code


def require_payer(actor: Actor) -> None:
    if actor["role"] != Role.EXPORTER:
        raise Forbidden("only the exporter pays", code="FORBIDDEN")


def may_see_receipt(actor: Actor, payment) -> bool:
    if actor["role"] == Role.EXPORTER:
        return payment.iec == actor["username"]
    if actor["role"] == Role.OFFICER:
        return payment.parties["issuing_office"]["code"] == actor.get("office")
    return False
