"""The dispatcher: sends due messages beside the service, like the chassis outbox relay publishes.

It wakes right after a commit that recorded messages (or requeued one), when the earliest retry
falls due, and polls every ``OPENCOO_DELIVERY_POLL`` seconds for messages recorded by other
processes. Each message is claimed before it is sent, so several processes of the service never
send it at the same time; a claim left by a process that died expires and is taken over.

No database connection is held while a message is on the wire: with SQLite the service has one
connection per process, and the event handlers and RPCs need it meanwhile.
"""
import logging
import uuid
from datetime import timedelta

import eventlet
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider
from sqlalchemy import func, or_, select, update

from services.chassis import correlation
from services.chassis.database import Database, utcnow
from services.notification import delivery, messages, settings
from services.notification.models import Message

log = logging.getLogger(__name__)

BATCH = 20
SEND_DEADLINE = 60           # seconds one send may take in all, whatever the server does
CLAIM_SECONDS = 300          # comfortably longer than one send
STOP_GRACE = SEND_DEADLINE + 5
MIN_WAIT = 0.05


class Dispatcher:
    """Plain Python: finds due messages, claims, sends and records them."""

    def __init__(self, session_factory, service="notification"):
        self.session_factory = session_factory
        self.service = service
        self.token = str(uuid.uuid4())
        self.stopping = False

    @staticmethod
    def _claimable(now):
        return (Message.status == "pending",
                Message.next_attempt_at <= now,
                or_(Message.claimed_until.is_(None), Message.claimed_until < now))

    def due_ids(self) -> list[str]:
        with self.session_factory() as session:
            return list(session.scalars(
                select(Message.id).where(*self._claimable(utcnow()))
                .order_by(Message.next_attempt_at, Message.created_at).limit(BATCH)))

    def claim(self, message_id: str) -> bool:
        now = utcnow()
        with self.session_factory() as session:
            result = session.execute(
                update(Message)
                .where(Message.id == message_id, *self._claimable(now))
                .values(claimed_by=self.token,
                        claimed_until=now + timedelta(seconds=CLAIM_SECONDS)))
            session.commit()
            return result.rowcount == 1

    def dispatch_due(self) -> int:
        """Send one batch of due messages; returns how many were due."""
        ids = self.due_ids()
        for message_id in ids:
            if self.stopping:
                break
            if self.claim(message_id):
                self.deliver(message_id)
        return len(ids)

    def deliver(self, message_id: str):
        with self.session_factory() as session:
            m = session.get(Message, message_id)
            outgoing = delivery.Outgoing(id=m.id, channel=m.channel, recipient=m.recipient,
                                         subject=m.subject, text=m.body_text, html=m.body_html)
            cid = m.correlation_id
        correlation.set_current(cid)
        try:
            attempted_at = utcnow()
            error = None
            sender = None
            try:
                sender = delivery.sender_for(outgoing.channel)
                with eventlet.Timeout(SEND_DEADLINE, delivery.DeliveryError(
                        f"{sender.describe()}: no answer within {SEND_DEADLINE}s")):
                    sender.send(outgoing)
            except delivery.DeliveryError as exc:
                error = str(exc)
            except Exception as exc:  # every failure is the delivery log's business
                error = f"{type(exc).__name__}: {exc}"
                if sender is not None:
                    error = f"{sender.describe()}: {error}"
            with self.session_factory() as session:
                m = session.get(Message, message_id)
                messages.record_attempt(m, attempted_at, error, settings.retry_delays())
                session.commit()
                if error is None:
                    log.info("%s %s %s sent", m.kind, m.channel, m.id,
                             extra={"event_id": m.event_id})
                elif m.status == "failed":
                    log.error("%s %s %s failed after %s attempts: %s", m.kind, m.channel,
                              m.id, m.attempts, error, extra={"attempt": m.attempts})
                else:
                    log.warning("%s %s %s not sent (attempt %s), retrying at %s: %s",
                                m.kind, m.channel, m.id, m.attempts,
                                m.next_attempt_at.isoformat(), error,
                                extra={"attempt": m.attempts})
        finally:
            correlation.set_current(None)

    def seconds_to_next_due(self) -> float | None:
        """Seconds until the earliest unclaimed pending message falls due (0 if one is due)."""
        now = utcnow()
        with self.session_factory() as session:
            earliest = session.scalar(
                select(func.min(Message.next_attempt_at)).where(
                    Message.status == "pending",
                    or_(Message.claimed_until.is_(None), Message.claimed_until < now)))
        if earliest is None:
            return None
        return max(0.0, (earliest - now).total_seconds())


class MessageDispatcher(DependencyProvider):
    """Runs a Dispatcher in a managed greenthread beside the service. Workers get a handle whose
    ``wake_after_commit()`` wakes it once their unit of work has committed."""

    def __init__(self):
        self.dispatcher = None
        self._wakeups = None
        self._thread = None
        self._to_wake = set()

    def setup(self):
        self._wakeups = LightQueue(maxsize=1)

    def start(self):
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.dispatcher = Dispatcher(database.session_factory, self.container.service_name)
        self._thread = self.container.spawn_managed_thread(self._run,
                                                           identifier="message_dispatcher")

    def stop(self):
        """Let a message on the wire finish (so it is recorded, not sent again later), then end."""
        if self._thread is None:
            return
        self.dispatcher.stopping = True
        self.wake()
        with eventlet.Timeout(STOP_GRACE, False):
            self._thread.wait()
        self.kill()

    def kill(self):
        if self._thread is not None:
            self._thread.kill()
            self._thread = None

    def wake(self):
        try:
            self._wakeups.put_nowait(True)
        except eventlet.queue.Full:
            pass  # a wake-up is already pending; it will see these messages too

    def get_dependency(self, worker_ctx):
        return _Handle(self, worker_ctx)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        # Runs after the entrypoint committed (or rolled back: then there is nothing new).
        if worker_ctx in self._to_wake and exc_info is None:
            self.wake()

    def worker_teardown(self, worker_ctx):
        self._to_wake.discard(worker_ctx)

    def _run(self):
        failures = 0
        wait = 0.0  # look at once: messages may have been left by a stopped process
        while not self.dispatcher.stopping:
            try:
                self._wakeups.get(timeout=wait)
            except Empty:
                pass
            if self.dispatcher.stopping:
                break
            try:
                while self.dispatcher.dispatch_due() == BATCH and not self.dispatcher.stopping:
                    pass
                poll = settings.dispatch_poll()
                due = self.dispatcher.seconds_to_next_due()
                wait = max(MIN_WAIT, poll if due is None else min(poll, due))
                failures = 0
            except Exception:
                failures += 1
                log.exception("message dispatcher of %s failed; retrying", self.dispatcher.service)
                wait = min(30, 0.5 * 2 ** failures)


class _Handle:
    def __init__(self, provider: MessageDispatcher, worker_ctx):
        self._provider = provider
        self._worker_ctx = worker_ctx

    def wake_after_commit(self):
        """Send what this worker recorded as soon as its transaction has committed."""
        self._provider._to_wake.add(self._worker_ctx)
