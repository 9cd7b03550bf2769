"""The entrypoints services use instead of nameko's own: every call runs as one unit of work
(commit on return, rollback on raise, before the reply or ack), and event handlers are reliable
(validated against the contract, idempotent per event_id, retried with backoff, then dead-lettered).
"""

import functools
import logging
import traceback
import uuid

from kombu import Producer
from marshmallow import ValidationError
from nameko.events import EventHandler
from nameko.rpc import rpc as nameko_rpc
from sqlalchemy import select

from services.chassis import amqp, config
from services.chassis.database import UnitOfWork, utcnow
from services.chassis.errors import ApiError
from services.chassis.models import InboxRecord
from services.chassis.workers import forget_locals
from services.contracts.events import UnknownEvent, parse_event

log = logging.getLogger(__name__)


def _unit_of_work(service) -> UnitOfWork | None:
    uow = getattr(service, "db", None)
    return uow if isinstance(uow, UnitOfWork) else None


def transactional(fn):
    """Run ``fn`` in the worker's unit of work: commit when it returns, roll back when it raises."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        uow = _unit_of_work(self)
        try:
            result = fn(self, *args, **kwargs)
            if uow is not None:
                uow.commit()
            return result
        except BaseException as exc:
            if uow is not None:
                uow.rollback()
            forget_locals(exc)
            raise

    return wrapper


def rpc(fn=None, **kwargs):
    """nameko's @rpc around a transactional method. State-changing methods must still be idempotent:
    a worker that dies before its reply is acked makes the call run again."""
    if fn is None:
        return functools.partial(rpc, **kwargs)
    # ApiErrors are answers to the caller, not faults of this service: logged without alarm.
    kwargs.setdefault("expected_exceptions", ApiError)
    return nameko_rpc(**kwargs)(transactional(fn))


class PoisonMessage(Exception):
    """A message no retry can fix (it breaks the contract): straight to the dead-letter queue."""


class ReliableEventHandler(EventHandler):
    """A durable, service-pooled event handler that never drops an event and never loops forever.

    On failure the message is parked in a delay queue and comes back to this handler's queue, up to
    ``len(OPENCOO_EVENT_RETRY_DELAYS)`` times; then it goes to ``opencoo.dead-letters`` with the
    error, where ``opencoo dlq list|replay`` finds it. The original is acked only after the copy is
    confirmed by the broker, so a crash in between repeats rather than loses it.
    """

    def __init__(self, source_service, event_type, **kwargs):
        super().__init__(source_service, event_type, reliable_delivery=True, requeue_on_error=False, **kwargs)

    def setup(self):
        super().setup()
        self.retry_delays = config.event_retry_delays()

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is not None:
            try:
                self._retry_or_dead_letter(message, exc_info)
            except Exception:
                log.exception("could not park failed message of %s; requeueing", self.queue.name)
                self.queue_consumer.requeue_message(message)
                return
        self.queue_consumer.ack_message(message)

    def _retry_or_dead_letter(self, message, exc_info):
        headers = dict(message.headers or {})
        attempt = int(headers.get(amqp.ATTEMPT_HEADER, 0)) + 1
        error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        poison = issubclass(exc_info[0], PoisonMessage)
        with amqp.connect(self.container.config["AMQP_URI"]) as conn:
            producer = Producer(conn.default_channel)
            if attempt <= len(self.retry_delays) and not poison:
                delay = self.retry_delays[attempt - 1]
                headers[amqp.ATTEMPT_HEADER] = attempt
                target = amqp.retry_queue(self.queue.name, delay)
                log.warning(
                    "event handler failed (attempt %s), retrying in %ss: %s",
                    attempt,
                    delay,
                    error,
                    extra={"queue": self.queue.name, "attempt": attempt},
                )
            else:
                headers.update(
                    {
                        amqp.ATTEMPT_HEADER: attempt,
                        amqp.ORIGIN_QUEUE_HEADER: self.queue.name,
                        amqp.ERROR_HEADER: error[:2000],
                        amqp.DEAD_AT_HEADER: utcnow().isoformat() + "Z",
                        amqp.DEAD_LETTER_ID_HEADER: str(uuid.uuid4()),
                    }
                )
                target = amqp.dead_letter_queue()
                log.error(
                    "event handler gave up after %s attempts; dead-lettered: %s",
                    attempt,
                    error,
                    extra={"queue": self.queue.name, "attempt": attempt},
                )
            amqp.publish_raw(
                producer, target, message.body, message.content_type, message.content_encoding, headers
            )


def event_handler(source_service: str, event_type: str):
    """Handle ``event_type`` from ``source_service``: the method receives the validated payload and
    runs once per event_id (the inbox row commits with its effects)."""

    def decorator(fn):
        handler_name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(self, payload):
            try:
                event = parse_event(source_service, event_type, payload)
            except (ValidationError, UnknownEvent) as exc:
                raise PoisonMessage(f"event breaks its contract: {exc}") from exc
            event_id = str(event["event_id"])
            uow = _unit_of_work(self)
            if uow is None:
                return fn(self, event)
            # Checked, not caught at insert: a twin delivery racing this one fails at commit on the
            # unique key and, retried, finds the row here.
            seen = uow.session.scalar(
                select(InboxRecord.id).where(
                    InboxRecord.event_id == event_id, InboxRecord.handler == handler_name
                )
            )
            # Give the connection back while the handler calls other services (with SQLite a
            # process has one): the inbox row is added after, to commit with the effects.
            uow.rollback()
            if seen is not None:
                log.info(
                    "event %s already handled by %s; skipped",
                    event_id,
                    handler_name,
                    extra={"event_id": event_id, "event_type": event_type},
                )
                return None
            result = fn(self, event)
            uow.session.add(InboxRecord(event_id=event_id, handler=handler_name, handled_at=utcnow()))
            return result

        return ReliableEventHandler.decorator(source_service, event_type)(transactional(wrapper))

    return decorator
