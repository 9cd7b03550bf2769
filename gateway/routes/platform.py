"""The platform's own routes: health, the OpenAPI document and its browsable page."""

from werkzeug.utils import safe_join
from werkzeug.wrappers import Response

from gateway import openapi, pages, schemas
from gateway.http import route
from services.chassis import config
from services.chassis.amqp import broker_unreachable
from services.chassis.errors import ApiError, NotFound


class PlatformRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies and rate limits."""

    @route(
        "GET",
        "/health",
        "Health of the gateway and of every service",
        response=schemas.Health,
        responses={503: "A service, or the message broker, is down (named in `down`)"},
        public=True,
    )
    def health(self, request):
        timeout = config.health_timeout()
        broker_down = broker_unreachable(config.amqp_uri(), min(timeout, 1.0))
        if broker_down:  # no service can be asked: say so at once rather than wait on retries
            return 503, {
                "status": "degraded",
                "down": ["broker"],
                "broker": {"status": "down", "error": broker_down},
                "services": {
                    "gateway": {"status": "ok"},
                    **{
                        name: {"status": "unknown", "error": "not asked: the broker is down"}
                        for name in config.SERVICES
                    },
                },
            }
        pending, report = {}, {}
        for name in config.SERVICES:
            try:
                pending[name] = getattr(self, name).with_timeout(timeout).health.call_async()
            except ApiError as exc:
                report[name] = {"status": "down", "error": exc.message}
        for name, reply in pending.items():  # all asked at once: waits at most one timeout
            try:
                answer = reply.result()
                report[name] = {"status": "ok", "outbox_backlog": answer.get("outbox_backlog", 0)}
            except Exception as exc:
                report[name] = {
                    "status": "down",
                    "error": exc.message if isinstance(exc, ApiError) else str(exc),
                }
        down = sorted(name for name, state in report.items() if state["status"] != "ok")
        body = {
            "status": "degraded" if down else "ok",
            "down": down,
            "broker": {"status": "ok"},
            "services": {"gateway": {"status": "ok"}, **{name: report[name] for name in config.SERVICES}},
        }
        return (503 if down else 200), body

    @route("GET", "/api/v1/openapi.json", "This API's OpenAPI 3 document", public=True)
    def openapi_document(self, request):
        return openapi.build(config.public_url())

    @route("GET", "/api/docs", "Browsable API documentation", public=True)
    def docs(self, request):
        return pages.docs()

    @route("GET", "/api/docs/opencoo/docs.js", "The documentation page's script", public=True)
    def docs_script(self, request):
        return Response(
            pages.DOCS_SCRIPT, mimetype="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
        )

    @route("GET", "/api/docs/static/<path:filename>", "Assets of the documentation page", public=True)
    def docs_static(self, request, filename):
        path = safe_join(pages.swagger_dir(), filename)
        if path is None or not filename.endswith((".js", ".css", ".png")):
            raise NotFound("no such asset")
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound("no such asset") from None
        mimetype = {"js": "text/javascript", "css": "text/css", "png": "image/png"}[
            filename.rsplit(".", 1)[1]
        ]
        return Response(content, mimetype=mimetype, headers={"Cache-Control": "public, max-age=86400"})
