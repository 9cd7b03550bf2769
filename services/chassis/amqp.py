"""Plain kombu helpers for what nameko does not do for us: confirmed, persistent publishing of raw
bodies (outbox relay, retries, dead letters) and reading the dead-letter queue."""

import json
import socket
from urllib.parse import urlsplit

import amqp.exceptions
import kombu.exceptions
from kombu import Connection, Exchange, Producer, Queue

from services.contracts.events import exchange_name

DEAD_LETTER_QUEUE = "opencoo.dead-letters"
ATTEMPT_HEADER = "x-opencoo-attempt"
ORIGIN_QUEUE_HEADER = "x-opencoo-queue"
ERROR_HEADER = "x-opencoo-error"
DEAD_AT_HEADER = "x-opencoo-dead-at"
DEAD_LETTER_ID_HEADER = "x-opencoo-dead-letter-id"

PERSISTENT = 2
# What a publish or a call raises when the broker cannot be reached (after nameko's retries).
BROKER_UNREACHABLE = (kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError, ConnectionError)


def broker_unreachable(amqp_uri: str, timeout: float) -> str | None:
    """Why the broker's port does not take a connection within ``timeout`` seconds, or None
    when it does: a health check that answers at once while a publish would retry for
    seconds."""
    parts = urlsplit(amqp_uri)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=timeout):
            return None
    except OSError as exc:
        return f"the message broker at {parts.hostname}:{parts.port or 5672} does not answer ({exc})"


def connect(amqp_uri: str) -> Connection:
    # Publisher confirms: publish() returns only once the broker has taken the message.
    return Connection(amqp_uri, transport_options={"confirm_publish": True}, heartbeat=0)


def event_exchange(source: str) -> Exchange:
    # The same declaration as nameko's get_event_exchange, so both sides agree.
    return Exchange(exchange_name(source), type="topic", durable=True, delivery_mode=PERSISTENT)


def dead_letter_queue() -> Queue:
    return Queue(DEAD_LETTER_QUEUE, exchange=Exchange(""), routing_key=DEAD_LETTER_QUEUE, durable=True)


def retry_queue(queue_name: str, delay_seconds: float) -> Queue:
    """A parking queue whose messages expire after the delay back into the original queue (through
    the default exchange, whose routing key is the queue name). One queue per delay, so a long delay
    never holds up a short one."""
    ms = max(1, int(delay_seconds * 1000))
    return Queue(
        f"{queue_name}.retry.{ms}",
        exchange=Exchange(""),
        routing_key=f"{queue_name}.retry.{ms}",
        durable=True,
        queue_arguments={
            "x-message-ttl": ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue_name,
        },
    )


def publish_event(producer: Producer, source: str, payload: dict, headers: dict):
    producer.publish(
        json.dumps(payload),
        exchange=event_exchange(source),
        routing_key=payload["event_type"],
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=PERSISTENT,
        headers=headers,
        message_id=payload["event_id"],
        declare=[event_exchange(source)],
        retry=True,
        retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
    )


def publish_raw(producer: Producer, queue: Queue, body, content_type, content_encoding, headers):
    """Put an already serialized message into ``queue`` (declared first) unchanged but for headers."""
    producer.publish(
        body,
        exchange="",
        routing_key=queue.name,
        content_type=content_type,
        content_encoding=content_encoding,
        delivery_mode=PERSISTENT,
        headers=headers,
        declare=[queue],
        retry=True,
        retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
    )
