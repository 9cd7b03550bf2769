"""The portal's one way to OpenCoO: the public HTTP API, over a pool of kept-alive connections.

Every call carries the browser's address (``X-Forwarded-For``) with the portal's key
(``config.PORTAL_KEY_HEADER``), which the gateway checks before it believes the address, so that rate
limits and lock-outs count people, not the portal. Answers are JSON; an error answer becomes
``ApiError`` with the API's status, code, message and field paths, for the page to show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

import urllib3

from services.chassis import config


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    fields: dict = field(default_factory=dict)
    retry_after: str | None = None

    def __str__(self):
        return f"{self.status} {self.code}: {self.message}"


class ApiUnavailable(ApiError):
    """The API did not answer (down, or too slow): the page says so and asks to try again."""


class Api:
    def __init__(self, base_url: str, portal_key: str, timeout: float = 30.0, pool_size: int = 20):
        self.base_url = base_url.rstrip("/")
        self.portal_key = portal_key
        self.timeout = urllib3.Timeout(connect=3.0, read=timeout)
        self.pool = urllib3.PoolManager(maxsize=pool_size, block=False, retries=False)

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        client: str = "",
        json_body=None,
        query: dict | None = None,
        fields: dict | None = None,
        raw: bool = False,
    ):
        """The API's JSON answer (or, with ``raw``, the urllib3 response: PDFs, spreadsheets)."""
        headers = {config.PORTAL_KEY_HEADER: self.portal_key, "Accept": "application/json"}
        if client:
            headers["X-Forwarded-For"] = client
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self.base_url + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v not in (None, "")})
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        try:
            if fields is not None:  # a multipart upload
                answer = self.pool.request(
                    method, url, fields=fields, headers=headers, timeout=self.timeout, preload_content=True
                )
            else:
                answer = self.pool.request(
                    method, url, body=body, headers=headers, timeout=self.timeout, preload_content=True
                )
        except urllib3.exceptions.HTTPError as exc:
            raise ApiUnavailable(
                503, "SERVICE_UNAVAILABLE", "OpenCoO is not answering just now; try again in a minute."
            ) from exc
        if answer.status >= 400:
            raise _error(answer)
        if raw:
            return answer
        if answer.status == 204 or not answer.data:
            return None
        return json.loads(answer.data)


def _error(answer) -> ApiError:
    try:
        error = json.loads(answer.data)["error"]
        code, message, fields = error["code"], error["message"], error.get("fields") or {}
    except (ValueError, KeyError, TypeError):
        code, message, fields = "ERROR", f"the API answered {answer.status}", {}
    kind = ApiUnavailable if answer.status in (502, 503, 504) else ApiError
    return kind(answer.status, code, message, fields, answer.headers.get("Retry-After"))


def from_config() -> Api:
    return Api(config.env("OPENCOO_API_URL", f"http://{config.http_address()}"), config.portal_key())
