"""Operator access to the dead-letter queue: list what is there, replay what was fixed."""

import json

from kombu import Producer, Queue

from services.chassis import amqp


def _drain(conn):
    """Every message in the queue, left unacked; closing the channel puts back what is not acked."""
    channel = conn.channel()
    queue = amqp.dead_letter_queue()(channel)
    queue.declare()
    messages = []
    while True:
        message = queue.get(no_ack=False)
        if message is None:
            return channel, messages
        messages.append(message)


def describe(message) -> dict:
    headers = message.headers or {}
    try:
        payload = json.loads(message.body)
    except (TypeError, ValueError):
        payload = None
    return {
        "id": headers.get(amqp.DEAD_LETTER_ID_HEADER),
        "queue": headers.get(amqp.ORIGIN_QUEUE_HEADER),
        "attempts": headers.get(amqp.ATTEMPT_HEADER),
        "dead_at": headers.get(amqp.DEAD_AT_HEADER),
        "error": headers.get(amqp.ERROR_HEADER),
        "event_type": (payload or {}).get("event_type") if isinstance(payload, dict) else None,
        "event_id": (payload or {}).get("event_id") if isinstance(payload, dict) else None,
    }


def list_dead_letters(amqp_uri: str) -> list[dict]:
    with amqp.connect(amqp_uri) as conn:
        channel, messages = _drain(conn)
        try:
            return [describe(m) for m in messages]
        finally:
            channel.close()


def replay(amqp_uri: str, ids: set[str] | None = None) -> list[dict]:
    """Send dead letters (all, or those with the given ids) back to their handler's queue with a
    fresh retry budget. Returns what was replayed."""
    replayed = []
    with amqp.connect(amqp_uri) as conn:
        channel, messages = _drain(conn)
        producer = Producer(conn.default_channel)
        try:
            for message in messages:
                info = describe(message)
                if ids is not None and info["id"] not in ids:
                    continue
                if not info["queue"]:
                    continue
                headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-opencoo-")}
                amqp.publish_raw(
                    producer,
                    Queue(info["queue"], no_declare=True),
                    message.body,
                    message.content_type,
                    message.content_encoding,
                    headers,
                )
                message.ack()
                replayed.append(info)
        finally:
            channel.close()
    return replayed
