"""The portal's WSGI application: routing, the session, CSRF, who may see a screen, and the
headers every page carries. The screens themselves are in ``views/``.

A screen is declared once with ``screen(path, roles=… | public=True)``, as the gateway's routes
are: without a session it sends the user to log in and back; with another role it answers 403.
Every POST must carry the session's CSRF token, or it is refused with 403 before the view runs,
so nothing changes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.utils import redirect, safe_join
from werkzeug.wrappers import Request, Response

from portal import catalogues
from portal import sessions as session_store
from portal.api import Api, ApiError, ApiUnavailable
from portal.words import FIELD_WORDS
from services.chassis import config

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)
MAX_BODY = 6 * 1024 * 1024  # the HS nomenclature (5 MiB at the API) as a form; a document is 2 MB


# Our own scripts, styles and images only, forms that post to us only, never framed; scripts may
# reach only us and the exporter's signer bridge on its loopback address.
def policy(bridge_url: str, form_action: str = "'self'") -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {bridge_url}; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )


HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class IdConverter(BaseConverter):
    """``<id:name>`` in a screen's path: an id, which the view puts into an API path, so
    nothing else (no dots, slashes or query) ever reaches it; anything else is 404."""

    regex = "[A-Za-z0-9-]{1,64}"


class UsernameConverter(BaseConverter):
    """``<username:name>``: a staff username as registration keeps it."""

    regex = "[A-Za-z0-9][A-Za-z0-9._-]{2,63}"


@dataclass(frozen=True)
class Screen:
    view: Callable
    roles: tuple[str, ...] = ()
    public: bool = False


SCREENS: list[tuple[str, list[str], Screen]] = []


def screen(path: str, *, methods=("GET",), roles=(), public=False):
    """Declare a screen: who may see it, in one place (a screen that says neither is refused
    when the module is imported)."""
    if bool(roles) == bool(public):
        raise ValueError(f"{path}: declare roles=(...) or public=True")

    def register(view):
        SCREENS.append((path, list(methods), Screen(view, tuple(roles), public)))
        return view

    return register


class LoginRequired(Exception):
    """The session ended, or the API no longer takes its token: log in, then come back."""


@dataclass
class Page:
    """One request to the portal, as a view sees it."""

    portal: "Portal"
    request: Request
    session: session_store.Session | None
    cookies: list = field(default_factory=list)

    @property
    def user(self) -> session_store.Session:
        """The logged-in session (screens with roles are only reached with one)."""
        if self.session is None or not self.session.logged_in:
            raise LoginRequired
        return self.session

    @property
    def client(self) -> str:
        return self.portal.client_address(self.request)

    def api(self, method: str, path: str, **kwargs):
        """Call the API as the logged-in user (or anonymously)."""
        token = self.session.token if self.session else None
        try:
            return self.portal.api.call(method, path, token=token, client=self.client, **kwargs)
        except ApiError as exc:
            # the token's refusal (expired, revoked), not a wrong password typed into a form
            if exc.status == 401 and exc.code.startswith("TOKEN_") and self.session is not None and token:
                self.portal.store.end(self.session)
                raise LoginRequired from exc
            raise

    def ensure_session(self) -> session_store.Session:
        """A session for a page with a form (its CSRF token lives there)."""
        if self.session is None:
            self.session = self.portal.store.new()
            self.cookies.append(self.session.id)
        return self.session

    def log_in(self, token: str, role: str, username: str, expires_in: int) -> None:
        self.session = self.portal.store.log_in(self.session, token, role, username, expires_in)
        self.cookies.append(self.session.id)

    def log_out(self) -> None:
        if self.session is not None:
            self.portal.store.end(self.session)
            self.session = None
        self.cookies.append("")

    def render(self, template: str, status: int = 200, **values) -> Response:
        """A page; a view whose page has a form calls ``ensure_session`` first."""
        session = self.session
        language = self.language
        html = (
            self.portal.templates[language]
            .get_template(template)
            .render(
                language=language,
                csrf_token=session.csrf if session else "",
                user=session if session and session.logged_in else None,
                path=self.request.path,
                bridge_url=self.portal.bridge_url,
                **values,
            )
        )
        return Response(html, status=status, mimetype="text/html")

    @property
    def language(self) -> str:
        return self.portal.language(self.request)

    def gettext(self, message: str, **values) -> str:
        """A view's text in the page's language (``page._`` in views, as ``_`` in templates)."""
        text = catalogues.translations(self.language).gettext(message)
        return text % values if values else text

    _ = gettext

    def render_with_form_action(self, form_action: str, template: str, **values) -> Response:
        """A page whose form may lead elsewhere (the payment provider's page)."""
        response = self.render(template, **values)
        response.headers["Content-Security-Policy"] = policy(self.portal.bridge_url, form_action)
        return response

    def form_value(self, name: str, limit: int = 1000) -> str:
        value = self.request.form.get(name, "")
        return value[:limit]


class Portal:
    def __init__(
        self, api: Api, store: session_store.SessionStore, public_url: str, bridge_url: str | None = None
    ):
        self.api = api
        self.store = store
        self.secure = public_url.startswith("https://")
        self.bridge_url = (bridge_url or config.env("OPENCOO_BRIDGE_URL", "http://127.0.0.1:8765")).rstrip(
            "/"
        )
        self.languages = catalogues.languages()
        self.templates = {language: self._environment(language) for language in self.languages}
        self.url_map = Map(
            [Rule(path, methods=methods, endpoint=spec) for path, methods, spec in SCREENS]
            + [Rule("/static/<path:name>", methods=["GET"], endpoint="static")],
            converters={"id": IdConverter, "username": UsernameConverter},
        )

    @staticmethod
    def _environment(language: str) -> Environment:
        templates = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
        )
        templates.install_gettext_translations(catalogues.translations(language), newstyle=True)  # type: ignore[attr-defined]
        templates.filters["zip"] = lambda first, second: list(zip(first, second, strict=True))
        templates.globals["field_words"] = FIELD_WORDS
        return templates

    def language(self, request: Request) -> str:
        """The browser's preferred language among the catalogues (English when none fits)."""
        return (
            request.accept_languages.best_match(self.languages, default=catalogues.SOURCE)
            or catalogues.SOURCE
        )

    def client_address(self, request: Request) -> str:
        """The browser's address: told by the gateway in front (which proves itself with the
        portal's key), else the peer of the socket."""
        sent = request.headers.get(config.PORTAL_KEY_HEADER, "").encode()
        if sent and hmac.compare_digest(sent, self.api.portal_key.encode()):
            forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
            if forwarded:
                return forwarded
        return request.remote_addr or "unknown"

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_BODY
        response = self.respond(request)
        for name, value in {**HEADERS, "Content-Security-Policy": policy(self.bridge_url)}.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        page = Page(self, request, self.store.find(request.cookies.get(session_store.COOKIE)))
        try:
            spec, values = self.url_map.bind_to_environ(request.environ).match()
            if spec == "static":
                return self.static(values["name"])
            response = self.dispatch(page, spec, values)
        except LoginRequired:
            page.session = None
            response = redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?=&"))
        except ApiUnavailable as exc:
            response = page.render(
                "error.html", 503, title=page._("Try again in a minute"), message=exc.message
            )
            if exc.retry_after:
                response.headers["Retry-After"] = exc.retry_after
        except NotFound:
            response = page.render(
                "error.html",
                404,
                title=page._("Page not found"),
                message=page._("There is no such page. Check the address."),
            )
        except HTTPException as exc:
            response = page.render("error.html", exc.code or 400, title=exc.name, message=exc.description)
        except Exception:  # a fault of ours: logged in full, never shown (a traceback tells attackers)
            log.exception("the page %s %s failed", request.method, request.path)
            response = page.render(
                "error.html",
                500,
                title=page._("Something went wrong"),
                message=page._("The page could not be shown. Try again in a minute."),
            )
        for value in page.cookies:
            response.set_cookie(
                session_store.COOKIE,
                value,
                httponly=True,
                samesite="Lax",
                secure=self.secure,
                path="/",
                max_age=None if value else 0,
            )
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"  # pages hold people's data
        return response

    def dispatch(self, page: Page, spec: Screen, values: Mapping[str, Any]) -> Response:
        session = page.session
        if not spec.public:
            if session is None or not session.logged_in:
                raise LoginRequired
            if session.role not in spec.roles:
                return page.render(
                    "error.html",
                    403,
                    title=page._("Not for your role"),
                    message=page._("This page is not for your role."),
                )
        if page.request.method != "POST":
            return spec.view(page, **values)
        # the form's identity, read before the form is parsed: this session, path and body
        who = (session.id if session else "").encode()
        sent = hashlib.sha256(
            b"\0".join([who, page.request.path.encode(), page.request.get_data()])
        ).hexdigest()
        if session is None or not session.csrf_matches(page.request.form.get("csrf_token")):
            return page.render(
                "error.html",
                403,
                title=page._("The form has expired"),
                message=page._(
                    "The form was too old or not ours: nothing was changed. "
                    "Go back, reload the page and send it again."
                ),
            )
        return self.once(sent, lambda: spec.view(page, **values))

    def once(self, sent: str, view: Callable[[], Response]) -> Response:
        """A form sent again while (or shortly after) the first sending runs, a double click,
        gets the first's answer (its redirect) and does nothing twice; a refusal is not kept,
        so the corrected form, or the same one later, runs again."""
        if not self.store.claim_form(sent):
            location = self.store.first_answer(sent)
            if location is not None:
                return redirect(location, code=303)
            return view()
        location = None
        try:
            response = view()
            if response.status_code in (302, 303):
                location = response.headers["Location"]
        finally:
            self.store.settle_form(sent, location)
        return response

    def static(self, name: str) -> Response:
        path = safe_join(str(HERE / "static"), name)
        if path is None or not Path(path).is_file():
            raise NotFound()
        kind = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}.get(
            path.rsplit(".", 1)[-1], "application/octet-stream"
        )
        return Response(
            Path(path).read_bytes(), mimetype=kind, headers={"Cache-Control": "public, max-age=3600"}
        )


def safe_next(target: str | None) -> str:
    """Where to go after login: a path of ours only (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")
