"""Reference lists (agreements, agencies and offices, units, countries, currencies) kept in each
gateway process as the services last gave them, so that a cached read costs no RPC, and answered
with an ETag so that a conditional read costs no body either (304).

Agreements, units, countries and currencies come from files that change only with a release:
kept until the process ends. Agencies and offices change when an admin adds one: registration
announces ``organisation_changed`` (a broadcast, heard by every gateway process) and the list is
dropped, to be asked for again on the next read.
"""

import hashlib
import json
import threading
from typing import Callable

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

MAX_AGE = 60  # seconds a browser or a proxy may reuse an answer before asking again (with its ETag)


class ReferenceCache:
    def __init__(self) -> None:
        self._lists: dict[str, object] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], object]):
        """The list of ``key``, asking ``load`` (an RPC) only when none is kept."""
        found = self._lists.get(key)
        if found is None:
            found = load()
            with self._lock:
                self._lists[key] = found
        return found

    def drop(self, key: str) -> None:
        with self._lock:
            self._lists.pop(key, None)


class KnownReference(DependencyProvider):
    """One ``ReferenceCache`` per gateway container, shared by its workers."""

    def setup(self):
        self.cache = ReferenceCache()

    def get_dependency(self, worker_ctx):
        return self.cache


def conditional(request, body) -> Response:
    """``body`` as JSON with its ETag and Cache-Control; 304 when the client holds it already."""
    data = json.dumps(body, separators=(",", ":"), default=str).encode()
    response = Response(data, mimetype="application/json")
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response.make_conditional(request)
