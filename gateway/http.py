"""HTTP edge of the gateway: JSON for every answer, errors included; body limits before any byte
of the body is read; a correlation id per request; routes that document themselves in OpenAPI.
"""

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from eventlet import wsgi
from eventlet.semaphore import Semaphore
from marshmallow import ValidationError
from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Request, Response

from gateway import auth, portal_forwarding, revocation
from gateway.clients import client_address
from gateway.errors import http_status
from services.chassis import config, correlation
from services.chassis.amqp import BROKER_UNREACHABLE
from services.chassis.errors import ApiError, BadRequest, PayloadTooLarge, UnsupportedMediaType
from services.chassis.workers import forget_locals
from services.contracts import tokens

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-Id"
_CORRELATION_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# On every answer: a browser must not guess types, frame us or tell other sites where it came from.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# What an answer may do in a browser unless its route says otherwise (the pages do): nothing.
# `sandbox` keeps a PDF, a spreadsheet or a JSON body opened from our origin from running anything.
DEFAULT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
# A page of ours: its own styles and scripts only, never inline script, never framed.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# A page with a form that posts back to the platform, and nowhere else.
FORM_PAGE_POLICY = PAGE_POLICY.replace("form-action 'none'", "form-action 'self'")


def json_response(body, status=200, headers=None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), default=str),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def page_response(html: str, policy: str = PAGE_POLICY) -> Response:
    """An HTML page with the Content-Security-Policy it needs (no more than ``PAGE_POLICY``
    unless the route says why)."""
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": policy})


def error_response(status, code, message, fields=None, headers=None) -> Response:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return json_response({"error": body}, status=status, headers=headers)


def _http_exception_response(exc: HTTPException) -> Response:
    code = re.sub(r"[^A-Z]+", "_", (exc.name or "error").upper()).strip("_")
    headers = {}
    allowed = getattr(exc, "valid_methods", None)
    if exc.code == 405 and allowed:
        headers["Allow"] = ", ".join(allowed)
    return error_response(exc.code or 500, code, exc.description or exc.name, headers=headers)


class JsonWsgiApp(WsgiApp):
    """nameko's WsgiApp answers unknown paths and methods with werkzeug's HTML pages; this one
    answers JSON, refuses oversized bodies up front and stamps the correlation id. A path that is
    neither a route nor under /api/ goes to the portal (``portal_forwarding``)."""

    def __init__(self, server):
        super().__init__(server)
        self.portal = portal_forwarding.from_config()

    def __call__(self, environ, start_response):
        incoming = environ.get("HTTP_X_CORRELATION_ID", "")
        cid = incoming if _CORRELATION_RE.match(incoming) else correlation.new_id()
        environ["opencoo.correlation_id"] = cid
        correlation.set_current(cid)  # this greenthread also writes the access log line
        request = Request(environ, shallow=True)
        request.max_content_length = config.max_body_bytes()
        try:
            try:
                provider, values = self.url_map.bind_to_environ(environ).match()
            except NotFound:
                if self.portal is None or request.path.startswith("/api/"):
                    raise
                request.shallow = False  # its body goes on to the portal
                return self._finish(
                    self.portal.forward(request, client_address(request)), cid, environ, start_response
                )
            if (request.content_length or 0) > request.max_content_length:
                raise PayloadTooLarge(f"request body is larger than {request.max_content_length} bytes")
            for name, value in request.args.items(multi=True):
                if not _valid_text(name) or not _valid_text(value):
                    raise BadRequest(
                        "the query string holds a NUL character",
                        code="VALIDATION_ERROR",
                        fields={name: ["Not valid text."]},
                    )
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = _http_exception_response(exc)
        except ApiError as exc:
            response = json_response(exc.to_dict(), status=http_status(exc))
        return self._finish(response, cid, environ, start_response)

    @staticmethod
    def _finish(response, cid, environ, start_response):
        response.headers[CORRELATION_HEADER] = cid
        for name, value in {**SECURITY_HEADERS, "Content-Security-Policy": DEFAULT_POLICY}.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)


class BoundedProtocol(HttpOnlyProtocol):
    """eventlet's protocol, answering JSON (as every other answer) when a request line or its
    headers are too long: 414 and 431 instead of an empty 400."""

    def _read_request_line(self):
        line = super()._read_request_line()
        if len(line) >= self.server.url_length_limit:
            self._refuse(
                414,
                "URI Too Long",
                "URI_TOO_LONG",
                f"the request line is longer than {self.server.url_length_limit} bytes",
            )
            return ""  # what eventlet reads as a closed connection
        return line

    def parse_request(self):
        try:
            return super().parse_request()
        except (wsgi.HeaderLineTooLong, wsgi.HeadersTooLarge):
            self._refuse(
                431,
                "Request Header Fields Too Large",
                "HEADERS_TOO_LARGE",
                f"a header is longer than {wsgi.MAX_HEADER_LINE} bytes, or all of "
                f"them together longer than {wsgi.MAX_TOTAL_HEADER_SIZE}",
            )
            return False

    def _refuse(self, status: int, reason: str, code: str, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        head = "".join(
            f"{name}: {value}\r\n"
            for name, value in {
                "Content-Type": "application/json",
                "Content-Length": len(body),
                "Connection": "close",
                **SECURITY_HEADERS,
                "Content-Security-Policy": DEFAULT_POLICY,
            }.items()
        )
        self.wfile.write(f"HTTP/1.1 {status} {reason}\r\n{head}\r\n".encode() + body)
        self.close_connection = 1


class JsonWebServer(WebServer):
    """nameko's web server with bounds a client on the internet cannot stretch: connections
    served at once (more wait in the kernel's backlog), idle keep-alive connections closed, a
    silent socket given up."""

    def get_wsgi_app(self):
        return JsonWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=BoundedProtocol, debug=False):
        return wsgi.Server(
            sock,
            sock.getsockname(),
            wsgi_app,
            protocol=protocol,
            debug=debug,
            log=logging.getLogger("nameko.web.server"),
            keepalive=config.keepalive_seconds(),
            socket_timeout=config.socket_timeout_seconds(),
        )

    def run(self):
        slots = Semaphore(config.max_connections())
        while self._is_accepting:
            slots.acquire()
            try:
                sock, address = self._sock.accept()
                sock.settimeout(self._serv.socket_timeout)
                thread = self.container.spawn_managed_thread(partial(self.process_request, sock, address))
            except BaseException:
                slots.release()
                raise
            thread.link(lambda _: slots.release())

    def context_data_from_headers(self, request):
        return {correlation.CONTEXT_KEY: request.environ["opencoo.correlation_id"]}


@dataclass
class RouteDoc:
    """What OpenAPI says of a route; collected as routes are declared."""

    method: str
    path: str
    summary: str
    tags: tuple = ()
    request_schema: object = None
    response_schema: object = None
    roles: tuple = ()
    responses: dict = field(default_factory=dict)
    query: object = None
    media: str = "application/json"  # of the request body
    path_params: dict = field(default_factory=dict)  # name -> JSON schema, where not any string


ROUTES: list[RouteDoc] = []


class JsonHttp(HttpRequestHandler):
    """A route: who may call it is decided here, from its declaration, before its body is read
    or validated (``request.principal`` is the caller then; None on a public route)."""

    server = JsonWebServer()

    def __init__(self, method, url, max_body=None, roles=(), **kwargs):
        self.max_body = max_body
        self.roles = roles
        super().__init__(method, url, **kwargs)

    def setup(self):
        super().setup()
        self._credential_versions = None

    def handle_request(self, request):
        if self._credential_versions is None:  # dependencies are set up after entrypoints
            self._credential_versions = revocation.KnownCredentialVersions.of(self.container)
        request.environ[revocation.ENVIRON_KEY] = self._credential_versions
        try:
            request.principal = auth.require(request, *self.roles) if self.roles else None
        except ApiError as exc:
            return self.response_from_exception(exc)
        limit = self.max_body
        if limit is not None and (request.content_length or 0) > limit:
            return error_response(413, "PAYLOAD_TOO_LARGE", f"request body is larger than {limit} bytes")
        return super().handle_request(request)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status, headers = 200, None
        if isinstance(result, tuple):
            if len(result) == 3:
                status, headers, result = result
            else:
                status, result = result
        return json_response(result, status=status, headers=headers)

    def response_from_exception(self, exc):
        forget_locals(exc)
        if isinstance(exc, ApiError):
            headers = {}
            if "retry_after" in exc.extra:
                headers["Retry-After"] = str(exc.extra["retry_after"])
            return json_response(exc.to_dict(), status=http_status(exc), headers=headers)
        if isinstance(exc, ValidationError):
            return error_response(400, "VALIDATION_ERROR", "the request is not valid", fields=exc.messages)
        if isinstance(exc, HTTPException):
            return _http_exception_response(exc)
        if isinstance(exc, BROKER_UNREACHABLE):  # nameko's publish or reply gave up
            log.warning("the message broker is unreachable: %s", exc)
            return error_response(
                503,
                "SERVICE_UNAVAILABLE",
                "the platform's message broker is not answering; try again in a minute",
                headers={"Retry-After": "30"},
            )
        if isinstance(exc, RemoteError):
            log.error("unexpected error in a service: %s", exc)
        else:
            log.error("unexpected error in the gateway", exc_info=exc)
        return error_response(
            500,
            "INTERNAL_ERROR",
            "something went wrong on our side; quote the X-Correlation-Id header when reporting it",
        )


class RouteDeclarationError(TypeError):
    """A route says neither who may call it nor that anyone may: refused when the gateway's
    module is imported, so such a route is never served."""


def route(
    method,
    path,
    summary,
    *,
    roles=(),
    public=False,
    tags=(),
    request=None,
    response=None,
    max_body=None,
    query=None,
    responses=None,
    media="application/json",
    path_params=None,
):
    """Declare an HTTP route, who may call it and its OpenAPI description in one place. ``path``
    uses werkzeug's ``<name>`` syntax. ``roles``: the roles that may call it, enforced before
    anything else (401 without a valid token, 403 for another role); ``public=True``: anyone."""
    if bool(roles) == bool(public):
        raise RouteDeclarationError(f"{method} {path}: declare roles=(...) or public=True")
    unknown = set(roles) - set(tokens.ROLES)
    if unknown:
        raise RouteDeclarationError(f"{method} {path}: no such roles {sorted(unknown)}")
    ROUTES.append(
        RouteDoc(
            method,
            path,
            summary,
            tuple(tags),
            request,
            response,
            tuple(roles),
            responses or {},
            query,
            media,
            path_params or {},
        )
    )
    # A client's mistake is an answer, not a fault: nameko logs these below ERROR, without alarm.
    return JsonHttp.decorator(
        method,
        path,
        max_body=max_body,
        roles=tuple(roles),
        expected_exceptions=(ApiError, ValidationError, HTTPException),
    )


MAX_JSON_DEPTH = 32  # our deepest body (products, raw materials) is 4 levels


def loads_checked(text, field: str = "_body"):
    """JSON from a client, or a ValidationError naming ``field``: malformed, nested deeper than
    any of our bodies, or holding text no database, PDF or spreadsheet can take (a lone UTF-16
    surrogate such as ``"\\udfff"``, or NUL). Refused here, once, for every route."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError(
            {field: ["Body is not valid JSON." if field == "_body" else "Not valid JSON."]}
        ) from None
    problems = {}
    # Iterative: a body 900 levels deep, within the parser's own limit, must not recurse here.
    stack = [(data, field if field != "_body" else "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValidationError({field: [f"Nested more than {MAX_JSON_DEPTH} levels deep."]})
        items: Iterable[tuple[Any, Any]] = ()
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        for key, item in items:
            where = f"{path}.{key}" if path else str(key)
            for text_value in (key, item) if isinstance(key, str) else (item,):
                if isinstance(text_value, str) and not _valid_text(text_value):
                    problems[where] = ["Not valid text: a lone surrogate or a NUL character."]
            if isinstance(item, (dict, list)):
                stack.append((item, where, depth + 1))
    if isinstance(data, str) and not _valid_text(data):
        problems[field] = ["Not valid text: a lone surrogate or a NUL character."]
    if problems:
        raise ValidationError(problems)
    return data


def checked_text(value: str, field: str) -> str:
    """A text field of a form, a query or a file name as it came: refused if no database can
    store it (NUL; a lone surrogate cannot arrive here, werkzeug decodes with replacement)."""
    if not _valid_text(value):
        raise ValidationError({field: ["Not valid text: a lone surrogate or a NUL character."]})
    return value


def _valid_text(text: str) -> bool:
    if "\0" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # only a lone surrogate cannot be encoded
        return False
    return True


def parse_json(request, schema):
    """Load a JSON body with a marshmallow schema; malformed JSON or fields are a 400."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    data = loads_checked(request.get_data(cache=False) or b"{}")  # no body: no fields
    if not isinstance(data, dict):
        raise ValidationError({"_body": ["Must be a JSON object."]})
    return schema.load(data)
