"""The dashboard, and applications as lists and one by one: the exporter's own, the officer's
office queue and its post-audit list (applications approved by self-certification). Filters,
sorting and pages are the API's own (its query parameters)."""

from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import Page, screen
from portal.views.drafts import discrepancy_comment
from services.contracts.actors import PEOPLE, Role
from services.contracts.application_status import Status

PER_PAGE = 25
FILTERS = ("status", "agreement", "agency", "number", "date_from", "date_to")
# The exporter's menu, as the manual has it (its names are dashboard_exporter.html's): each a
# list of the exporter's applications.
EXPORTER_MENU = (Status.DRAFT, Status.PENDING_PAYMENT, Status.SUBMITTED, Status.DISCREPANCY, Status.ISSUED)


def _list_query(page: Page) -> dict:
    args = page.request.args
    query: dict[str, str | int] = {name: args.get(name, "")[:80] for name in FILTERS}
    query["page"] = args.get("page", "1")[:7]
    query["per_page"] = PER_PAGE
    return query


def _list(page: Page, path: str, template: str, api_query: dict | None = None, **values):
    query = _list_query(page)
    problem = None
    try:
        listing = page.api("GET", path, query={**query, **(api_query or {})})
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        problem, listing = exc, {"items": [], "total": 0, "page": 1, "per_page": PER_PAGE}
    last_page = max(1, -(-listing["total"] // PER_PAGE))
    return page.render(
        template,
        problem.status if problem else 200,
        listing=listing,
        query=query,
        problem=problem,
        last_page=last_page,
        statuses=[status.value for status in Status],
        **values,
    )


@screen("/dashboard", roles=PEOPLE)
def dashboard(page: Page):
    role = page.user.role
    if role == Role.EXPORTER:
        counts = {
            status: page.api("GET", "/api/v1/applications", query={"status": status.value, "per_page": 1})[
                "total"
            ]
            for status in EXPORTER_MENU
        }
        return page.render("dashboard_exporter.html", menu=EXPORTER_MENU, counts=counts)
    if role == Role.OFFICER:
        queue = "/api/v1/officer/applications"
        waiting = page.api("GET", queue, query={"per_page": 1})["total"]
        audit = page.api("GET", queue, query={"per_page": 1, **POST_AUDIT})["total"]
        return page.render("dashboard_officer.html", waiting=waiting, post_audit=audit)
    return page.render("dashboard_staff.html")


@screen("/applications", roles=(Role.EXPORTER,))
def exporter_applications(page: Page):
    return _list(page, "/api/v1/applications", "applications.html", officer=False)


@screen("/officer/applications", roles=(Role.OFFICER,))
def officer_queue(page: Page):
    return _list(page, "/api/v1/officer/applications", "applications.html", officer=True)


# The API's own filter: applications of the office approved by self-certification, any status.
POST_AUDIT = {"post_audit": "true"}


@screen("/officer/post-audit", roles=(Role.OFFICER,))
def post_audit(page: Page):
    return _list(
        page, "/api/v1/officer/applications", "applications.html", POST_AUDIT, officer=True, post_audit=True
    )


def submitted_to(page: Page, application: dict) -> str:
    """The agency and issuing office, as the manual's message names them ("MPEDA - Kochi")."""
    agencies = page.api("GET", "/api/v1/reference/agencies", query={"per_page": 500})["items"]
    names = {
        office["code"]: office["name"]
        for agency in agencies
        for region in agency["regional_offices"]
        for office in region["issuing_offices"]
    }
    office = application.get("issuing_office_code") or ""
    return f"{application.get('agency_code') or ''} - {names.get(office, office)}"


def _application(
    page: Page, application_id: str, officer: bool, problem: ApiError | None = None, status: int = 200
):
    path = f"/api/v1/applications/{application_id}"  # the API decides who may see which
    try:
        application = page.api("GET", path)
        history = page.api("GET", path + "/history")
    except ApiError as exc:
        if exc.status == 404:
            raise NotFound() from exc
        raise
    if officer and application["status"] == Status.SUBMITTED:
        page.ensure_session()  # the decision forms carry its CSRF token
    # the landing after payment (the provider sends the exporter back here), until an officer
    # sends it back or refuses it
    paid = (
        not officer
        and application.get("paid_at")
        and application["status"] not in (Status.DISCREPANCY, Status.REJECTED)
    )
    return page.render(
        "application.html",
        status,
        application=application,
        history=history["items"],
        officer=officer,
        decisions=DECISIONS if officer and application["status"] == Status.SUBMITTED else (),
        problem=problem,
        discrepancy=discrepancy_comment(history["items"])
        if application["status"] == Status.DISCREPANCY
        else None,
        payment=_paid(page, path) if paid else None,
        submitted_to=submitted_to(page, application) if paid else "",
    )


def _paid(page: Page, path: str) -> dict | None:
    """The order summary of a paid application (its payment, for the receipt)."""
    try:
        summary = page.api("GET", path + "/fee")
    except ApiError as exc:
        if exc.status >= 500 or exc.status == 401:
            raise
        return None
    return summary if summary["paid"] else None


@screen("/applications/<id:application_id>", roles=(Role.EXPORTER,))
def exporter_application(page: Page, application_id: str):
    return _application(page, application_id, officer=False)


@screen("/officer/applications/<id:application_id>", roles=(Role.OFFICER,))
def officer_application(page: Page, application_id: str):
    return _application(page, application_id, officer=True)


# The officer's three decisions on a submitted application: (what, the API's field, whether it
# must be given); their labels are application.html's.
DECISIONS = (
    ("discrepancy", "comment", True),
    ("approve", "remarks", False),
    ("reject", "reason", True),
)


@screen("/officer/applications/<id:application_id>/<decision>", methods=("POST",), roles=(Role.OFFICER,))
def officer_decides(page: Page, application_id: str, decision: str):
    known = {name: field for name, field, _ in DECISIONS}
    if decision not in known:
        raise NotFound()
    text = page.form_value(known[decision], 2000).strip()
    try:
        page.api(
            "POST",
            f"/api/v1/officer/applications/{application_id}/{decision}",
            json_body={known[decision]: text or None},
        )
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (401, 403, 404):
            raise
        return _application(page, application_id, officer=True, problem=exc, status=exc.status)
    return redirect(f"/officer/applications/{application_id}", code=303)
