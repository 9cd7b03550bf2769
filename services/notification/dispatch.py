"""The dispatcher: sends due messages beside the service, like the chassis outbox relay publishes.

It wakes right after a commit that recorded messages (or requeued one), when the earliest retry
falls due, and polls every ``OPENCOO_DELIVERY_POLL`` seconds for messages recorded by other
processes. Each message is claimed before it is sent, so several processes of the service never
send it at the same time; a claim left by a process that died expires and is taken over.

No database connection is held while a message is on the wire: with SQLite the service has one
connection per process, and the event handlers and RPCs need it meanwhile.
"""

import dataclasses
import logging
import uuid
from datetime import timedelta

import eventlet
from sqlalchemy import func, or_, select, update

from services.chassis import correlation
from services.chassis.database import utcnow
from services.notification import delivery, messages, settings
from services.notification.models import Message

log = logging.getLogger(__name__)

BATCH = 20
SEND_DEADLINE = 60  # seconds one send may take in all, whatever the server does
CLAIM_SECONDS = 300  # comfortably longer than one send
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
        return (
            Message.status == "pending",
            Message.next_attempt_at <= now,
            or_(Message.claimed_until.is_(None), Message.claimed_until < now),
        )

    def due_ids(self) -> list[str]:
        with self.session_factory() as session:
            return list(
                session.scalars(
                    select(Message.id)
                    .where(*self._claimable(utcnow()))
                    .order_by(Message.next_attempt_at, Message.created_at)
                    .limit(BATCH)
                )
            )

    def claim(self, message_id: str) -> bool:
        now = utcnow()
        with self.session_factory() as session:
            result = session.execute(
                update(Message)
                .where(Message.id == message_id, *self._claimable(now))
                .values(claimed_by=self.token, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
            )
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
            outgoing = delivery.Outgoing(
                id=m.id,
                channel=m.channel,
                recipient=m.recipient,
                subject=m.subject,
                text=m.body_text,
                html=m.body_html,
            )
            attachments = [(a.sha256, a.filename, a.content_type) for a in m.attachments]
            cid = m.correlation_id
        correlation.set_current(cid)
        try:
            attempted_at = utcnow()
            error = None
            sender = None
            try:
                if attachments:  # read at send time: a file gone missing is a failed try
                    outgoing = dataclasses.replace(
                        outgoing, attachments=delivery.load_attachments(attachments)
                    )
                sender = delivery.sender_for(outgoing.channel)
                with eventlet.Timeout(
                    SEND_DEADLINE,
                    delivery.DeliveryError(f"{sender.describe()}: no answer within {SEND_DEADLINE}s"),
                ):
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
                    log.info("%s %s %s sent", m.kind, m.channel, m.id, extra={"event_id": m.event_id})
                elif m.status == "failed":
                    log.error(
                        "%s %s %s failed after %s attempts: %s",
                        m.kind,
                        m.channel,
                        m.id,
                        m.attempts,
                        error,
                        extra={"attempt": m.attempts},
                    )
                else:
                    log.warning(
                        "%s %s %s not sent (attempt %s), retrying at %s: %s",
                        m.kind,
                        m.channel,
                        m.id,
                        m.attempts,
                        m.next_attempt_at.isoformat(),
                        error,
                        extra={"attempt": m.attempts},
                    )
        finally:
            correlation.set_current(None)

    def seconds_to_next_due(self) -> float | None:
        """Seconds until the earliest unclaimed pending message falls due (0 if one is due)."""
        now = utcnow()
        with self.session_factory() as session:
            earliest = session.scalar(
                select(func.min(Message.next_attempt_at)).where(
                    Message.status == "pending",
                    or_(Message.claimed_until.is_(None), Message.claimed_until < now),
                )
            )
        if earliest is None:
            return None
        return max(0.0, (earliest - now).total_seconds())
