"""The gateway is the platform's one address: what it does not serve itself (the API, /health,
the verification and payment pages) it hands to the portal, whose pages people use
(architecture §10 "The portal"). API calls never take this extra step.

The portal is told the browser's address (``X-Forwarded-For``) with the portal's key, which
proves the gateway is who says so; a key or address the browser sent is not passed on. The
answer comes back as the portal gave it (its cookies, redirects and Content-Security-Policy).
"""

from __future__ import annotations

import logging

import urllib3
from werkzeug.wrappers import Request, Response

from services.chassis import config

log = logging.getLogger(__name__)

MAX_BODY = 6 * 1024 * 1024  # the portal's own limit: the HS nomenclature's file as a form
# What a browser's request may tell the portal, and what the portal's answer may tell the browser.
REQUEST_HEADERS = (
    "Accept",
    "Accept-Language",
    "Content-Type",
    "Cookie",
    "User-Agent",
    "Referer",
    "Origin",
    "If-None-Match",
    "If-Modified-Since",
)
RESPONSE_HEADERS = (
    "Content-Type",
    "Location",
    "Cache-Control",
    "Content-Security-Policy",
    "Retry-After",
    "Content-Disposition",
    "ETag",
    "Last-Modified",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
)
UNAVAILABLE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>OpenCoO'
    "</title></head><body><main><h1>Try again in a minute</h1><p>The portal is not "
    'answering just now. The API is at <a href="/api/docs">/api/docs</a>.</p></main>'
    "</body></html>"
)


class PortalForwarding:
    def __init__(self, base_url: str, key: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = urllib3.Timeout(connect=2.0, read=timeout)
        self.pool = urllib3.PoolManager(maxsize=20, block=False, retries=False)

    def forward(self, request: Request, client: str) -> Response:
        if (request.content_length or 0) > MAX_BODY:
            return Response("The form is larger than 6 MB.", status=413, mimetype="text/plain")
        headers = {name: request.headers[name] for name in REQUEST_HEADERS if name in request.headers}
        headers.update(
            {
                config.PORTAL_KEY_HEADER: self.key,
                "X-Forwarded-For": client,
                "X-Forwarded-Proto": request.scheme,
            }
        )
        target = self.base_url + (request.full_path if request.query_string else request.path)
        try:
            answer = self.pool.request(
                request.method,
                target,
                body=request.get_data(cache=False) or None,
                headers=headers,
                redirect=False,
                timeout=self.timeout,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            log.warning("the portal did not answer %s %s: %s", request.method, request.path, exc)
            return Response(UNAVAILABLE, status=503, mimetype="text/html", headers={"Retry-After": "30"})
        response = Response(answer.data, status=answer.status)
        response.headers.remove("Content-Type")
        for name in RESPONSE_HEADERS:
            value = answer.headers.get(name)
            if value is not None:
                response.headers[name] = value
        for cookie in answer.headers.getlist("Set-Cookie"):
            response.headers.add("Set-Cookie", cookie)
        return response


def from_config() -> PortalForwarding | None:
    """None when no portal is configured (``OPENCOO_PORTAL_URL=""``): unknown paths are 404."""
    url = config.portal_url()
    return PortalForwarding(url, config.portal_key(), config.rpc_timeout()) if url else None
