"""The outbox relay publishes every event with headers naming it (docs/events.md), beside the JSON
body and under the event type as routing key, so consumers can bind by them."""

import json
import time

import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy.orm import sessionmaker

from services.chassis import correlation
from services.chassis.config import database_url
from services.chassis.database import UnitOfWork, make_engine
from services.chassis.migrations import upgrade
from services.chassis.outbox import OutboxRelay, event_headers

SUBMITTED = {
    "application_id": "app-1",
    "application_number": "MPEDA/2026/013/0000066A",
    "iec": "AAACM1234F",
    "agreement_code": "013",
    "agency_code": "MPEDA",
    "issuing_office_code": "MPEDA-KOCHI",
}
EXPORTER = {
    "iec": "AAACM1234F",
    "name": "Malabar Sea Foods",
    "email": "exports@malabar.in",
    "mobile": "+919847012345",
}


@pytest.fixture
def outbox(platform_env, amqp_uri):
    """``emit(service, event_type, data)`` commits an event to that service's outbox through the
    chassis UnitOfWork and has the service's real outbox relay publish it."""
    engines, relays = {}, {}

    def emit(service, event_type, data):
        if service not in relays:
            upgrade(service)
            engines[service] = make_engine(database_url(service))
            relays[service] = OutboxRelay(service, sessionmaker(engines[service]), amqp_uri, eventlet.spawn)
        uow = UnitOfWork(service, sessionmaker(engines[service], expire_on_commit=False), lambda: None)
        payload = uow.emit(event_type, data)
        uow.commit()
        uow.close()
        assert relays[service].publish_pending() == 1
        return payload

    yield emit
    correlation.set_current(None)
    for relay in relays.values():
        relay.stop()
    for engine in engines.values():
        engine.dispose()


def bind_all(conn, *sources):
    queue = Queue("probe-headers", durable=True)
    bound = queue(conn.default_channel)
    bound.declare()
    for source in sources:
        bound.bind_to(Exchange(f"{source}.events", type="topic", durable=True), routing_key="#")
    return bound


def take(bound, n, wait=5.0):
    got, deadline = [], time.time() + wait
    while len(got) < n and time.time() < deadline:
        message = bound.get(no_ack=True)
        if message is None:
            eventlet.sleep(0.05)
            continue
        got.append(message)
    return got


def test_published_events_carry_headers_naming_them(outbox, amqp_uri):
    with Connection(amqp_uri) as conn:
        for source in ("application", "registration"):
            Exchange(f"{source}.events", type="topic", durable=True)(conn.default_channel).declare()
        bound = bind_all(conn, "application", "registration")

        correlation.set_current("corr-42")
        submitted = outbox("application", "application_submitted", SUBMITTED)
        correlation.set_current(None)
        registered = outbox("registration", "exporter_registered", EXPORTER)

        first, second = take(bound, 2)
    assert json.loads(first.body) == submitted
    assert first.delivery_info["exchange"] == "application.events"
    assert first.delivery_info["routing_key"] == "application_submitted"  # still the event type
    assert first.headers == {
        "event_type": "application_submitted",
        "version": 1,
        "source": "application",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
        "nameko.correlation_id": "corr-42",
    }
    assert first.properties["message_id"] == submitted["event_id"]
    assert first.properties["delivery_mode"] == 2  # still persistent

    # An event without an agency has no agency headers (and no correlation header without one).
    assert json.loads(second.body) == registered
    assert second.delivery_info["routing_key"] == "exporter_registered"
    assert second.headers == {"event_type": "exporter_registered", "version": 1, "source": "registration"}


def test_headers_are_taken_only_from_non_empty_string_fields():
    payload = {"event_type": "x", "version": 2, "agency_code": "", "issuing_office_code": None}
    assert event_headers("application", payload) == {"event_type": "x", "version": 2, "source": "application"}
