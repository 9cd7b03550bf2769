"""Screens for everyone: the home page and a certificate's verification by its number (what a
customs officer reads on a phone)."""

from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import Page, screen

STATUS_WORDS = {
    "valid": "Valid",
    "revoked": "Revoked: not valid",
    "superseded": "Superseded: replaced by another certificate",
}


@screen("/", public=True)
def home(page: Page):
    if page.session and page.session.logged_in:
        return redirect("/dashboard")
    return page.render("home.html")


@screen("/verify", public=True)
def verify(page: Page):
    number = page.request.args.get("number", "").strip()[:80]
    found, problem = None, None
    if number:
        try:
            found = page.api("GET", "/api/v1/verify", query={"number": number})
        except ApiError as exc:
            if exc.status >= 500:
                raise
            problem = exc.message
    return page.render("verify.html", number=number, found=found, problem=problem, status_words=STATUS_WORDS)
