"""Issued certificates: the exporter's own (and its requests for a duplicate or a certificate in
lieu), an office's or an agency's for staff. The API decides who sees which."""

from __future__ import annotations

from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import Page, screen
from services.contracts.actors import PEOPLE, Role

PER_PAGE = 25
REQUESTS = (
    ("duplicate", "A duplicate (the original was lost or damaged)"),
    ("in_lieu", "A certificate in lieu (the original has an error)"),
)


def _page(page: Page, status: int = 200, problem: ApiError | None = None):
    page.ensure_session()
    raw = page.request.args.get("page", "1")[:6]
    number = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    listing = page.api("GET", "/api/v1/certificates", query={"page": number, "per_page": PER_PAGE})
    return page.render(
        "certificates.html",
        status,
        listing=listing,
        problem=problem,
        requests=REQUESTS,
        last_page=max(1, -(-listing["total"] // PER_PAGE)),
    )


@screen("/certificates", roles=PEOPLE)
def certificates(page: Page):
    return _page(page)


@screen("/certificates/<id:certificate_id>/request", methods=("POST",), roles=(Role.EXPORTER,))
def request_again(page: Page, certificate_id: str):
    try:
        made = page.api(
            "POST",
            f"/api/v1/certificates/{certificate_id}/duplicates",
            fields={"kind": page.form_value("kind", 20), "reason": page.form_value("reason", 2000).strip()},
        )
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return _page(page, exc.status, exc)
    return redirect(f"/applications/{made['id']}", code=303)
