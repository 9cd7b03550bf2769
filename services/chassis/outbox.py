"""The outbox relay: publishes committed outbox rows to ``<service>.events``.

It wakes right after a commit that emitted events, and also polls, so that rows left behind by a
process that died between commit and publish still go out. Delivery is at-least-once (a crash after
publish but before marking the row repeats it); consumers' inboxes make the effect happen once.

Besides the JSON body, each message carries AMQP headers naming the event (``event_headers``), so
that a consumer can bind by them with a headers exchange: an issuing agency receives only its own
agency's events that way (docs/events.md). The routing key stays the event type.
"""

import logging
import uuid
from datetime import timedelta

import eventlet
from eventlet.queue import Empty, LightQueue
from kombu import Producer
from sqlalchemy import func, or_, select, update

from services.chassis import amqp, config
from services.chassis.database import utcnow
from services.chassis.models import OutboxRecord
from services.contracts.events import scrubbed

log = logging.getLogger(__name__)

BATCH = 100
CLAIM_SECONDS = 30

# Payload fields copied into message headers when the event has them (a non-empty string).
ROUTING_FIELDS = ("agency_code", "issuing_office_code")


def event_headers(source: str, payload: dict) -> dict:
    """The headers every published event carries, for consumers to bind by."""
    headers = {"event_type": payload["event_type"], "version": payload["version"], "source": source}
    for name in ROUTING_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and value:
            headers[name] = value
    return headers


class OutboxRelay:
    def __init__(self, service, session_factory, amqp_uri, spawn):
        self.service = service
        self.session_factory = session_factory
        self.amqp_uri = amqp_uri
        self.spawn = spawn
        self.token = str(uuid.uuid4())
        self._wakeups = LightQueue(maxsize=1)
        self._thread = None
        self._connection = None

    def start(self):
        self._thread = self.spawn(self._run)

    def stop(self):
        if self._thread is not None:
            self._thread.kill()
            self._thread = None
        if self._connection is not None:
            self._connection.release()
            self._connection = None

    def wake(self):
        try:
            self._wakeups.put_nowait(True)
        except eventlet.queue.Full:
            pass  # a wake-up is already pending; it will see these rows too

    def _run(self):
        poll = config.outbox_poll_interval()
        failures = 0
        while True:
            try:
                self._wakeups.get(timeout=poll)
            except Empty:
                pass
            try:
                while self.publish_pending() == BATCH:
                    pass
                failures = 0
            except Exception:
                failures += 1
                log.exception("outbox relay of %s failed; retrying", self.service)
                self._drop_connection()
                eventlet.sleep(min(30, 0.5 * 2**failures))

    def _producer(self):
        if self._connection is None:
            self._connection = amqp.connect(self.amqp_uri)
            self._connection.ensure_connection(max_retries=3)
        return Producer(self._connection.default_channel)

    def _drop_connection(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                pass
            self._connection = None

    def _claim(self, session) -> list[OutboxRecord]:
        now = utcnow()
        free = or_(OutboxRecord.claimed_until.is_(None), OutboxRecord.claimed_until < now)
        ids = session.scalars(
            select(OutboxRecord.id)
            .where(OutboxRecord.published_at.is_(None), free)
            .order_by(OutboxRecord.id)
            .limit(BATCH)
        ).all()
        if not ids:
            return []
        session.execute(
            update(OutboxRecord)
            .where(OutboxRecord.id.in_(ids), OutboxRecord.published_at.is_(None), free)
            .values(claimed_by=self.token, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        )
        session.commit()
        return session.scalars(
            select(OutboxRecord)
            .where(
                OutboxRecord.id.in_(ids),
                OutboxRecord.claimed_by == self.token,
                OutboxRecord.published_at.is_(None),
            )
            .order_by(OutboxRecord.id)
        ).all()

    def publish_pending(self) -> int:
        """Publish one batch; returns how many rows it published."""
        with self.session_factory() as session:
            rows = self._claim(session)
            if not rows:
                return 0
            producer = self._producer()
            for row in rows:
                cid = row.payload.get("correlation_id")
                headers = event_headers(self.service, row.payload)
                if cid:
                    # nameko.* headers become the consumer worker's context data.
                    headers["nameko.correlation_id"] = cid
                amqp.publish_event(producer, self.service, row.payload, headers)
                row.payload = scrubbed(self.service, row.payload)
                row.published_at = utcnow()
                session.commit()
            return len(rows)

    def backlog(self) -> int:
        with self.session_factory() as session:
            return session.scalar(
                select(func.count()).select_from(OutboxRecord).where(OutboxRecord.published_at.is_(None))
            )
