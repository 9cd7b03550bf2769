"""Correlation ids: made by the gateway per request, carried through RPC (nameko context headers)
and events (the envelope and its headers), and stamped on every log line.

Held in a ContextVar: greenlet gives each eventlet greenthread its own context, so concurrent workers
never see each other's id.
"""

import contextvars
import uuid

from nameko.extensions import DependencyProvider

CONTEXT_KEY = "correlation_id"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


def current() -> str | None:
    return _current.get()


def set_current(correlation_id: str | None):
    _current.set(correlation_id)


def new_id() -> str:
    return uuid.uuid4().hex


class CorrelationId(DependencyProvider):
    """Makes sure every worker has a correlation id, reusing the caller's when there is one, and
    exposes it as ``self.correlation_id``. Runs in the worker's own greenthread."""

    def setup(self):
        from services.chassis import logs

        logs.SERVICE_NAME = self.container.service_name
        logs.install_record_factory()

    def worker_setup(self, worker_ctx):
        cid = worker_ctx.context_data.get(CONTEXT_KEY) or new_id()
        worker_ctx.context_data[CONTEXT_KEY] = cid
        set_current(cid)

    def get_dependency(self, worker_ctx):
        return worker_ctx.context_data.get(CONTEXT_KEY)

    def worker_teardown(self, worker_ctx):
        set_current(None)
