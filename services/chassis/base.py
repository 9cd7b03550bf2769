"""The bases every domain service class derives from: correlation ids and health, and for a
service with state its database.

Service modules import this module, not the classes: ``nameko run services.x.service`` takes
every class in the module that has entrypoints for a service, and these have no name of their
own."""

import time

from sqlalchemy import func, select, text

from services.chassis.correlation import CorrelationId
from services.chassis.database import Database
from services.chassis.entrypoints import rpc
from services.chassis.models import OutboxRecord
from services.chassis.workers import ReleaseArguments

STARTED = time.time()


class StatelessServiceBase:
    """A service that keeps nothing (verification): health is that it answers."""

    name: str | None = None  # each service sets its own

    correlation_id = CorrelationId()
    release_arguments = ReleaseArguments()

    @rpc
    def health(self):
        return {"service": self.name, "status": "ok", "uptime_seconds": int(time.time() - STARTED)}


class ServiceBase(StatelessServiceBase):
    db = Database()

    @rpc
    def health(self):
        """Liveness and readiness in one answer: the process answers RPC and its database works.
        The outbox backlog tells an operator whether events are leaving."""
        session = self.db.session
        session.execute(text("SELECT 1"))
        backlog = session.scalar(
            select(func.count()).select_from(OutboxRecord).where(OutboxRecord.published_at.is_(None))
        )
        return {
            "service": self.name,
            "status": "ok",
            "database": "ok",
            "outbox_backlog": backlog,
            "uptime_seconds": int(time.time() - STARTED),
        }
