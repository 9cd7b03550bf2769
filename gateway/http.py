"""HTTP edge of the gateway: JSON for every answer, errors included; body limits before any byte
of the body is read; a correlation id per request; routes that document themselves in OpenAPI.
"""
import json
import logging
import re
from dataclasses import dataclass, field

from marshmallow import ValidationError
from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from services.chassis import config, correlation
from services.chassis.errors import ApiError, PayloadTooLarge, UnsupportedMediaType

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-Id"
_CORRELATION_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def json_response(body, status=200, headers=None) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), default=str), status=status,
                    headers=headers, mimetype="application/json")


def error_response(status, code, message, fields=None, headers=None) -> Response:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return json_response({"error": body}, status=status, headers=headers)


def _http_exception_response(exc: HTTPException) -> Response:
    code = re.sub(r"[^A-Z]+", "_", (exc.name or "error").upper()).strip("_")
    headers = {}
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(exc.code or 500, code, exc.description or exc.name, headers=headers)


class JsonWsgiApp(WsgiApp):
    """nameko's WsgiApp answers unknown paths and methods with werkzeug's HTML pages; this one
    answers JSON, refuses oversized bodies up front and stamps the correlation id."""

    def __call__(self, environ, start_response):
        incoming = environ.get("HTTP_X_CORRELATION_ID", "")
        cid = incoming if _CORRELATION_RE.match(incoming) else correlation.new_id()
        environ["opencoo.correlation_id"] = cid
        correlation.set_current(cid)  # this greenthread also writes the access log line
        request = Request(environ, shallow=True)
        request.max_content_length = config.max_body_bytes()
        try:
            if (request.content_length or 0) > request.max_content_length:
                raise PayloadTooLarge(
                    f"request body is larger than {request.max_content_length} bytes")
            provider, values = self.url_map.bind_to_environ(environ).match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = _http_exception_response(exc)
        except ApiError as exc:
            response = json_response(exc.to_dict(), status=exc.status)
        response.headers[CORRELATION_HEADER] = cid
        return response(environ, start_response)


class JsonWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonWsgiApp(self)

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


ROUTES: list[RouteDoc] = []


class JsonHttp(HttpRequestHandler):
    server = JsonWebServer()

    def __init__(self, method, url, max_body=None, **kwargs):
        self.max_body = max_body
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        limit = self.max_body
        if limit is not None and (request.content_length or 0) > limit:
            return error_response(413, "PAYLOAD_TOO_LARGE",
                                  f"request body is larger than {limit} bytes")
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
        if isinstance(exc, ApiError):
            headers = {}
            if "retry_after" in exc.extra:
                headers["Retry-After"] = str(exc.extra["retry_after"])
            return json_response(exc.to_dict(), status=exc.status, headers=headers)
        if isinstance(exc, ValidationError):
            return error_response(400, "VALIDATION_ERROR", "the request is not valid",
                                  fields=exc.messages)
        if isinstance(exc, HTTPException):
            return _http_exception_response(exc)
        if isinstance(exc, RemoteError):
            log.error("unexpected error in a service: %s", exc)
        else:
            log.error("unexpected error in the gateway", exc_info=exc)
        return error_response(500, "INTERNAL_ERROR",
                              "something went wrong on our side; quote the X-Correlation-Id "
                              "header when reporting it")


def route(method, path, summary, *, tags=(), request=None, response=None, roles=(),
          max_body=None, query=None, responses=None):
    """Declare an HTTP route and its OpenAPI description in one place. ``path`` uses werkzeug's
    ``<name>`` syntax; ``roles`` (documentation here) is enforced by the handler via auth."""
    ROUTES.append(RouteDoc(method, path, summary, tuple(tags), request, response, tuple(roles),
                           responses or {}, query))
    return JsonHttp.decorator(method, path, max_body=max_body, expected_exceptions=ApiError)


def parse_json(request, schema):
    """Load a JSON body with a marshmallow schema; malformed JSON or fields are a 400."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    try:
        data = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError({"_body": ["Body is not valid JSON."]}) from None
    return schema.load(data if data is not None else {})
