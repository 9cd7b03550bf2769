"""The agency admin's and the admin's screens for staff: the officers and agency admins, a new
officer (its password goes by email), and deactivation when someone leaves (reactivation if
they come back). The API decides who may manage whom (an agency admin its own agency's
officers)."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import Page, screen
from services.contracts.actors import STAFF

OFFICER_FIELDS = ("username", "name", "email", "mobile", "agency_code", "issuing_office_code")


def _staff_page(page: Page, status: int = 200, problem: ApiError | None = None, typed: dict | None = None):
    page.ensure_session()
    staff = page.api("GET", "/api/v1/admin/officers", query={"per_page": 500})["items"]
    agencies = page.api("GET", "/api/v1/reference/agencies", query={"per_page": 500})["items"]
    if page.user.role != "admin":  # an agency admin sees and manages its own agency only
        mine = {member["agency_code"] for member in staff if member["username"] == page.user.username}
        agencies = [agency for agency in agencies if agency["code"] in mine] or agencies
    offices = [
        (office["code"], f"{agency['code']}: {office['name']}")
        for agency in agencies
        for region in agency["regional_offices"]
        for office in region["issuing_offices"]
    ]
    errors = problem.fields if problem else {}
    return page.render(
        "staff.html",
        status,
        staff=staff,
        agencies=agencies,
        offices=offices,
        problem=problem,
        errors=errors,
        typed=typed or {},
    )


@screen("/admin/staff", roles=STAFF)
def staff(page: Page):
    return _staff_page(page)


@screen("/admin/staff", methods=("POST",), roles=STAFF)
def create_officer(page: Page):
    typed = {name: page.form_value(name, 254).strip() for name in OFFICER_FIELDS}
    try:
        page.api("POST", "/api/v1/admin/officers", json_body=typed)
    except ApiError as exc:
        if exc.status >= 500 or exc.status == 401:
            raise
        return _staff_page(page, exc.status, exc, typed)
    return redirect("/admin/staff", code=303)


@screen("/admin/staff/<username:username>/<action>", methods=("POST",), roles=STAFF)
def set_active(page: Page, username: str, action: str):
    if action not in ("deactivate", "reactivate"):
        raise NotFound()
    try:
        page.api("POST", f"/api/v1/admin/staff/{username}/{action}")
    except ApiError as exc:
        if exc.status >= 500 or exc.status == 401:
            raise
        return _staff_page(page, exc.status, exc)
    return redirect("/admin/staff", code=303)
