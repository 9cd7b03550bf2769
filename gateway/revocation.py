"""Tokens issued before a password change or reset, and tokens ended by logout, are refused,
without an RPC per request.

Each token carries the version of its account's credentials (claim ``ver``); registration raises
the version at every change. Each gateway process keeps, for the accounts that changed within a
token's lifetime (older tokens have expired anyway), the version a token must have at least. It
hears of a change at once from ``registration.credentials_changed`` (a broadcast: every gateway
process gets its own copy) and asks registration for recent changes at start and every half
minute, which covers the broadcasts a process missed while it was starting or cut off. Logout
ends one token (claim ``jti``): heard the same ways (``registration.token_revoked``).
"""

import logging
import threading
import time
from datetime import datetime

from nameko.extensions import DependencyProvider

log = logging.getLogger(__name__)

ENVIRON_KEY = "opencoo.credential_versions"

REFRESH_SECONDS = 30


class CredentialVersions:
    def __init__(self) -> None:
        self._least: dict[str, int] = {}
        self._ended: dict[str, float] = {}  # token id (jti) ended by logout -> its expiry (epoch)
        self._lock = threading.Lock()

    def note(self, username: str, version: int) -> None:
        with self._lock:
            if version > self._least.get(username, 0):
                self._least[username] = version

    def merge(self, changes: list[dict]) -> None:
        for change in changes:
            self.note(change["username"], int(change["credentials_version"]))

    def revoked(self, username: str, version) -> bool:
        """Whether a token of ``username`` carrying ``version`` predates a change. A token
        without a version was issued before versions existed, before any change: version 1."""
        least = self._least.get(username)
        return least is not None and int(version or 1) < least

    def end(self, token_id: str, expires_at: float) -> None:
        """Logout ended this token; forgotten once it would have expired anyway."""
        now = time.time()
        with self._lock:
            self._ended[token_id] = expires_at
            if len(self._ended) % 256 == 0:
                self._ended = {tid: exp for tid, exp in self._ended.items() if exp > now}

    def end_all(self, ended: list[dict]) -> None:
        for token in ended:
            self.end(token["token_id"], _epoch(token["expires_at"]))

    def ended(self, token_id: str | None) -> bool:
        return token_id is not None and token_id in self._ended


class KnownCredentialVersions(DependencyProvider):
    """One ``CredentialVersions`` per gateway container, shared by its workers and put on each
    request's environ for ``auth.authenticate``."""

    def setup(self):
        self.versions = CredentialVersions()

    def get_dependency(self, worker_ctx):
        return self.versions

    @staticmethod
    def of(container) -> CredentialVersions:
        for dependency in container.dependencies:
            if isinstance(dependency, KnownCredentialVersions):
                return dependency.versions
        raise LookupError("the gateway service declares no KnownCredentialVersions")


def refresh(versions: CredentialVersions, registration) -> None:
    """Every change and every logout within a token's lifetime (short lists: whole, so that
    none committed late is missed); a failure is logged and the next round tries again."""
    try:
        changes = registration.credentials_changes()
        ended = registration.revoked_tokens()
    except Exception as exc:  # down or slow: the broadcasts still arrive
        log.warning("could not refresh the accounts whose tokens are revoked: %s", exc)
        return
    versions.merge(changes)
    versions.end_all(ended)


def _epoch(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
