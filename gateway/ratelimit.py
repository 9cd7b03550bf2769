"""A per-address limit for public endpoints that reveal data (the IEC lookup): a sliding window
kept in the gateway process. Several gateway processes each count on their own, which bounds a
client at N times the limit; good enough against scraping, and nothing to run besides."""

import time
from collections import deque

from nameko.extensions import DependencyProvider

from services.chassis.errors import RateLimited


class SlidingWindow:
    def __init__(self, limit: int, seconds: float, max_clients: int = 100_000):
        self.limit, self.seconds, self.max_clients = limit, seconds, max_clients
        self._hits: dict[str, deque] = {}

    def check(self, client: str, now: float | None = None):
        now = time.monotonic() if now is None else now
        hits = self._hits.get(client)
        if hits is None:
            if len(self._hits) >= self.max_clients:
                self._forget_idle(now)
            hits = self._hits[client] = deque()
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            retry_after = int(hits[0] + self.seconds - now) + 1
            raise RateLimited(
                f"too many requests; try again in {retry_after} s", extra={"retry_after": retry_after}
            )
        hits.append(now)

    def _forget_idle(self, now):
        for client in [c for c, h in self._hits.items() if not h or h[-1] <= now - self.seconds]:
            del self._hits[client]


class RateLimit(DependencyProvider):
    """One window per gateway container, shared by its workers."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self.window = None

    def setup(self):
        self.window = SlidingWindow(self.limit, self.seconds)

    def get_dependency(self, worker_ctx):
        return self.window
