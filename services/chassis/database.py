"""The database of one service: engine, unit of work per worker, and the outbox relay beside it.

A worker gets ``self.db``: a UnitOfWork with a lazily opened ``session`` and ``emit()`` to record an
event in the outbox within the same transaction. The chassis entrypoints commit it when the method
returns and roll it back when it raises, *before* the RPC reply or the event ack goes out (nameko's
own ``worker_result`` hook runs after both, too late to make a failed commit visible).
"""

import logging
from datetime import datetime, timezone

from nameko.extensions import DependencyProvider
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from services.chassis import config, correlation
from services.chassis.models import OutboxRecord
from services.contracts.events import make_event

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Naive UTC, the form every OpenCoO table stores (SQLite keeps no zone)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def make_engine(url: str):
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            # One connection per process: a second greenthread waits for it in eventlet's green
            # queue instead of spinning in SQLite's C busy handler, which would block the hub while
            # the holder of the write lock cannot run. Other processes still wait on busy_timeout.
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"timeout": 30, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA secure_delete=ON")  # scrubbed secrets leave no old copy
            cur.close()

        return engine
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # pg8000 is pure Python, so eventlet's patched sockets make it cooperative.
        url = "postgresql+pg8000://" + url.split("://", 1)[1]
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class UnitOfWork:
    def __init__(self, service: str, session_factory, on_events_committed):
        self.service = service
        self._session_factory = session_factory
        self._session: Session | None = None
        self._on_events_committed = on_events_committed
        self._emitted = False

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def emit(self, event_type: str, data: dict) -> dict:
        """Record an event of this service in the outbox; it is published after commit, never for a
        rolled-back transaction. Returns the payload (with its event_id)."""
        payload = make_event(self.service, event_type, data, correlation.current())
        self.session.add(
            OutboxRecord(
                event_id=payload["event_id"],
                event_type=event_type,
                payload=payload,
                created_at=utcnow(),
            )
        )
        self._emitted = True
        return payload

    def commit(self):
        if self._session is not None:
            self._session.commit()
        if self._emitted:
            self._emitted = False
            self._on_events_committed()

    def rollback(self):
        self._emitted = False
        if self._session is not None:
            self._session.rollback()

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None


class Database(DependencyProvider):
    """One per service class. Owns the engine and starts the outbox relay for it."""

    def __init__(self, service_name: str | None = None):
        self._service_name = service_name
        self.engine: Engine | None = None
        self.session_factory = None
        self.relay = None

    @property
    def service_name(self):
        return self._service_name or self.container.service_name

    def setup(self):
        from services.chassis.outbox import OutboxRelay  # relay imports this module

        self.engine = make_engine(config.database_url(self.service_name))
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.relay = OutboxRelay(
            service=self.service_name,
            session_factory=self.session_factory,
            amqp_uri=self.container.config["AMQP_URI"],
            spawn=self.container.spawn_managed_thread,
        )

    def start(self):
        self.relay.start()

    def stop(self):
        self.relay.stop()
        self.engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return UnitOfWork(self.service_name, self.session_factory, self.relay.wake)

    def worker_teardown(self, worker_ctx):
        # Safety net: whatever the entrypoint did not commit is rolled back and the connection
        # goes back to the pool.
        uow = getattr(worker_ctx.service, self.attr_name, None)
        if isinstance(uow, UnitOfWork):
            uow.rollback()
            uow.close()

    def ping(self) -> bool:
        if self.engine is None:  # not set up yet
            return False
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
