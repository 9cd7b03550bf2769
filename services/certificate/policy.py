"""Who may see and do what with issued certificates: the exporter its own, an officer its
issuing office's, an agency admin its agency's, the admin all; duplicates and in-lieu requests
are the exporter's; revocation is staff's (within their agency, by what they can see). Anyone may
verify. Whatever an actor may not see is answered as not found. Plain Python."""

from services.certificate.models import Certificate
from services.chassis.errors import NotFound
from services.contracts.actors import STAFF, Actor, Role


def visible(actor: Actor):
    """The registry rows ``actor`` may see, as a where-clause."""
    role = actor["role"]
    if role == Role.EXPORTER:
        return Certificate.iec == actor["username"]
    if role == Role.OFFICER:
        return Certificate.issuing_office_code == actor.get("office")
    if role == Role.AGENCY_ADMIN:
        return Certificate.agency_code == actor.get("agency")
    if role == Role.ADMIN:
        return Certificate.id.is_not(None)
    return Certificate.id.is_(None)


def require_requester(actor: Actor) -> None:
    if actor["role"] != Role.EXPORTER:
        raise NotFound("no such certificate", code="CERTIFICATE_NOT_FOUND")


def require_revoker(actor: Actor) -> None:
    if actor["role"] not in STAFF:
        raise NotFound("no such certificate", code="CERTIFICATE_NOT_FOUND")
