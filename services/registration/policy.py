"""Who may do what with the organisation and its staff accounts: the admin everything; an
agency admin its own agency's offices and officers; nobody else anything. Plain Python."""

from services.chassis.errors import Forbidden
from services.contracts import actors
from services.contracts.actors import Actor, Role, is_staff

require_manager_of = actors.require_manager_of  # an agency's offices and officers


def require_admin(actor: Actor) -> None:
    if actor["role"] != Role.ADMIN:
        raise Forbidden("only an administrator may do this", code="ROLE_FORBIDDEN")


def require_staff(actor: Actor) -> None:
    if not is_staff(actor):
        raise Forbidden("only administrators see this", code="ROLE_FORBIDDEN")


def agency_scope(actor: Actor, agency_code: str | None = None) -> str | None:
    """Whose offices and staff ``actor`` lists: the admin any agency's (or all, given none), an
    agency admin always its own."""
    require_staff(actor)
    return actors.agency_scope(actor, agency_code)
