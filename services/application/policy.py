"""Who may do what with applications, in one place. Exporters see and change their own;
officers see their issuing office's once submitted (never a draft) and decide those in the
queue; admins and agency admins keep the self-certification list. Whatever an actor may not see
is answered as not found, so that ids tell nothing; what it may see but not do is forbidden.
Plain Python."""

from services.application.models import Application
from services.chassis.errors import Forbidden, NotFound
from services.contracts import actors
from services.contracts.actors import Actor, Role, is_staff
from services.contracts.application_status import Status


def may_see(actor: Actor, application: Application) -> bool:
    if actor["role"] == Role.EXPORTER:
        return application.iec == actor["username"]
    if actor["role"] == Role.OFFICER:
        return application.issuing_office_code == actor.get("office") and application.status != Status.DRAFT
    return False


def visible(actor: Actor):
    """The applications an actor may list, as a where-clause."""
    if actor["role"] == Role.EXPORTER:
        return Application.iec == actor["username"]
    if actor["role"] == Role.OFFICER:
        return (Application.issuing_office_code == actor.get("office")) & (
            Application.status != Status.DRAFT.value
        )
    raise NotFound("no such list", code="APPLICATION_NOT_FOUND")


require_manager_of = actors.require_manager_of  # an agency's approved exporters


def require_exporter(actor: Actor) -> None:
    """Drafts, documents, submission and payment are the exporter's alone."""
    if actor["role"] != Role.EXPORTER:
        raise NotFound("no such application", code="APPLICATION_NOT_FOUND")


def require_requester(actor: Actor) -> None:
    """A duplicate or an in-lieu is asked for by the certificate's exporter: to anyone else the
    certificate is not there."""
    if actor["role"] != Role.EXPORTER:
        raise NotFound("no such certificate", code="CERTIFICATE_NOT_FOUND")


def require_officer(actor: Actor) -> None:
    """The queue and its decisions: exporters have their own list under the same query, and
    admins are not officers."""
    if actor["role"] != Role.OFFICER:
        raise NotFound("no such application", code="APPLICATION_NOT_FOUND")


def require_staff(actor: Actor) -> None:
    if not is_staff(actor):
        raise Forbidden("only administrators may do this", code="ROLE_FORBIDDEN")


def agency_scope(actor: Actor) -> str | None:
    """Whose self-certification list and turnaround a staff member sees (None: every agency)."""
    require_staff(actor)
    return actors.agency_scope(actor)
