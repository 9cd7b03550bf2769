"""Screens for everyone: the home page and a certificate's verification by its number (what a
customs officer reads on a phone)."""

from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import Page, screen
from portal.catalogues import N_

# translated when the page is made (status_words)
STATUS_WORDS = {
    "valid": N_("Valid"),
    "revoked": N_("Revoked: not valid"),
    "superseded": N_("Superseded: replaced by another certificate"),
}


def status_words(page: Page) -> dict[str, str]:
    """The certificate's statuses in the page's language."""
    return {status: page._(words) for status, words in STATUS_WORDS.items()}


@screen("/", public=True)
def home(page: Page):
    if page.session and page.session.logged_in:
        return redirect("/dashboard")
    return page.render("home.html")


@screen("/help", public=True)
def manual(page: Page):
    return page.render("help.html")


MAX_PDF = 10 * 1024 * 1024  # what the API checks at most


@screen("/verify", methods=("POST",), public=True)
def verify_file(page: Page):
    """The customs officer checks the PDF they hold: its signature, and that it is the file the
    registry knows."""
    upload = page.request.files.get("file")
    verdict, problem = None, None
    if upload is None or not upload.filename:
        problem = page._("Choose the certificate PDF to check.")
    else:
        try:
            verdict = page.api(
                "POST",
                "/api/v1/verify",
                fields={"file": (upload.filename[:200], upload.read(MAX_PDF + 1), "application/pdf")},
            )
        except ApiError as exc:
            if exc.status >= 500 and exc.code != "VERIFICATION_BUSY":
                raise
            problem = exc.message
    page.ensure_session()
    return page.render(
        "verify.html",
        number="",
        found=None,
        problem=problem,
        verdict=verdict,
        status_words=status_words(page),
    )


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
    page.ensure_session()  # the page's upload form carries the session's CSRF token
    return page.render(
        "verify.html",
        number=number,
        found=found,
        problem=problem,
        verdict=None,
        status_words=status_words(page),
    )
