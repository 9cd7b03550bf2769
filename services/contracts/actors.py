"""Who is calling, as every service receives it: the gateway turns the caller's token into an
``Actor`` (a plain mapping, as it travels over RPC), and the platform's own moves have actors of
role ``system``. Each service's ``policy.py`` decides, from these, what an actor may do there;
the predicates every policy needs are here, once."""

import enum
from typing import TypedDict

from services.chassis.errors import Forbidden


class Role(str, enum.Enum):
    EXPORTER = "exporter"  # its own IEC
    OFFICER = "officer"  # its own issuing office
    AGENCY_ADMIN = "agency_admin"  # its own agency
    ADMIN = "admin"  # the platform
    SYSTEM = "system"  # a move no person makes (payment, self-certification, ...)


PEOPLE = tuple(role for role in Role if role is not Role.SYSTEM)  # what a token may carry
STAFF = (Role.ADMIN, Role.AGENCY_ADMIN)


class Actor(TypedDict):
    username: str
    role: str
    agency: str | None
    office: str | None


def system_actor(name: str) -> Actor:
    """The platform itself, named for the history (``payment``, ``certificate`` ...)."""
    return {"username": name, "role": Role.SYSTEM.value, "agency": None, "office": None}


def is_staff(actor: Actor) -> bool:
    """An admin, or an agency admin who has an agency."""
    return actor["role"] == Role.ADMIN or (actor["role"] == Role.AGENCY_ADMIN and bool(actor.get("agency")))


def manages_agency(actor: Actor, agency_code: str | None) -> bool:
    """The admin manages every agency; an agency admin its own."""
    return actor["role"] == Role.ADMIN or (
        actor["role"] == Role.AGENCY_ADMIN
        and actor.get("agency") is not None
        and actor.get("agency") == agency_code
    )


def require_manager_of(actor: Actor, agency_code: str | None) -> None:
    if not manages_agency(actor, agency_code):
        raise Forbidden(
            f"you manage agency {actor.get('agency')}, not {agency_code}", code="AGENCY_FORBIDDEN"
        )


def agency_scope(actor: Actor, agency_code: str | None = None) -> str | None:
    """Whose records a staff member lists: the admin any agency's (all, given none), an agency
    admin always its own. The caller has checked that ``actor`` is staff."""
    return agency_code if actor["role"] == Role.ADMIN else actor.get("agency")
