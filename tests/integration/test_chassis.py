"""The chassis against a real RabbitMQ: outbox, inbox, retries and dead letters, RPC deadlines,
correlation ids."""

import json
import time

import eventlet
import pytest
from click.testing import CliRunner
from kombu import Connection, Exchange, Queue
from nameko.exceptions import RemoteError
from sqlalchemy import func, select, text

from cli.main import main as opencoo
from services.chassis import dlq
from services.chassis.base import ServiceBase
from services.chassis.config import database_url
from services.chassis.database import make_engine
from services.chassis.entrypoints import event_handler, rpc
from services.chassis.errors import RpcTimeout, ServiceUnavailable
from services.chassis.migrations import upgrade
from services.chassis.models import InboxRecord, OutboxRecord
from services.chassis.rpc import TimedRpcProxy
from services.contracts.events import make_event

EXPORTER = {
    "iec": "ABCDE12345",
    "name": "Sea Foods Pvt Ltd",
    "email": "exports@seafoods.in",
    "mobile": "+919876543210",
}


class Registration(ServiceBase):
    """Stands in for the registration service: one method that emits an event and can fail after."""

    name = "registration"

    @rpc
    def register(self, fail_after_emit=False):
        payload = self.db.emit("exporter_registered", EXPORTER)
        if fail_after_emit:
            raise ValueError("refused after the event was recorded")
        return payload["event_id"]


handled = []  # effects of the probe handler, observed by the tests
handler_fails = {"on": False}


class Notification(ServiceBase):
    name = "notification"

    @event_handler("registration", "exporter_registered")
    def on_exporter_registered(self, event):
        if handler_fails["on"]:
            raise RuntimeError("mail server down")
        # The effect commits with the inbox row: that is what "once" is about.
        self.db.session.execute(
            text("INSERT INTO probe_effect (event_id) VALUES (:e)"), {"e": str(event["event_id"])}
        )
        handled.append(str(event["event_id"]))


class Caller(ServiceBase):
    name = "certificate"
    signing = TimedRpcProxy("signing", timeout=1)

    @rpc
    def ask_signing(self):
        return self.signing.health()


class Signing(ServiceBase):
    name = "signing"


@pytest.fixture(autouse=True)
def _reset():
    handled.clear()
    handler_fails["on"] = False


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated(request, platform_env):
    """Every chassis guarantee holds on both databases the platform supports."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_databases")
    for service in ("registration", "notification", "certificate", "signing"):
        upgrade(service)
    engine = make_engine(database_url("notification"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe_effect (event_id VARCHAR(36) NOT NULL)"))
    engine.dispose()
    return platform_env


def listen(amqp_uri, source="registration"):
    """An outside consumer's durable queue bound to a service's events, as an agency would bind."""
    conn = Connection(amqp_uri)
    queue = Queue(
        f"probe-{source}",
        Exchange(f"{source}.events", type="topic", durable=True),
        routing_key="#",
        durable=True,
    )
    queue(conn.default_channel).declare()
    return conn, queue


def received(conn, queue, wait=2.0):
    bound = queue(conn.default_channel)
    got, deadline = [], time.time() + wait
    while time.time() < deadline:
        message = bound.get(no_ack=True)
        if message is None:
            eventlet.sleep(0.05)
            continue
        got.append(json.loads(message.body))
    return got


def rows(platform_env, service, model):
    engine = make_engine(database_url(service))
    try:
        with engine.connect() as c:
            return c.execute(select(func.count()).select_from(model)).scalar()
    finally:
        engine.dispose()


def test_event_is_published_only_when_its_transaction_commits(migrated, run_services, rpc_client, amqp_uri):
    conn, queue = listen(amqp_uri)
    run_services(Registration)
    client = rpc_client(correlation_id="corr-123")

    with pytest.raises(RemoteError, match="refused after the event was recorded"):
        client.registration.register(fail_after_emit=True)
    assert received(conn, queue, wait=1.5) == []  # > 2 relay polls: nothing went out
    assert rows(migrated, "registration", OutboxRecord) == 0

    event_id = client.registration.register()
    events = received(conn, queue)
    assert [e["event_id"] for e in events] == [event_id]
    event = events[0]
    assert event["event_type"] == "exporter_registered" and event["version"] == 1
    assert event["iec"] == EXPORTER["iec"]
    assert event["correlation_id"] == "corr-123"  # travelled from the caller's context
    assert rows(migrated, "registration", OutboxRecord) == 1


def test_redelivered_event_has_its_effect_once(migrated, run_services, amqp_uri):
    run_services(Notification)
    payload = make_event("registration", "exporter_registered", EXPORTER, "corr-1")
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        for _ in range(3):  # at-least-once delivery: the broker hands over the same event again
            producer.publish(
                payload,
                exchange=Exchange("registration.events", type="topic", durable=True),
                routing_key="exporter_registered",
                serializer="json",
            )
    deadline = time.time() + 5
    while time.time() < deadline and not handled:
        eventlet.sleep(0.05)
    eventlet.sleep(1)
    engine = make_engine(database_url("notification"))
    with engine.connect() as conn:
        effects = conn.execute(text("SELECT event_id FROM probe_effect")).scalars().all()
    engine.dispose()
    assert effects == [payload["event_id"]]
    assert rows(migrated, "notification", InboxRecord) == 1


def test_contract_breaking_event_goes_straight_to_dead_letters(migrated, run_services, amqp_uri):
    run_services(Notification)
    with Connection(amqp_uri) as conn:
        conn.Producer().publish(
            {"event_type": "exporter_registered", "version": 1, "iec": "bad"},
            exchange=Exchange("registration.events", type="topic", durable=True),
            routing_key="exporter_registered",
            serializer="json",
        )
    dead = wait_for_dead_letters(amqp_uri, 1)
    assert dead[0]["attempts"] == 1 and "contract" in dead[0]["error"]
    assert handled == []


def wait_for_dead_letters(amqp_uri, count, wait=10):
    deadline = time.time() + wait
    while time.time() < deadline:
        dead = dlq.list_dead_letters(amqp_uri)
        if len(dead) >= count:
            return dead
        eventlet.sleep(0.1)
    raise AssertionError(f"expected {count} dead letters, found {dlq.list_dead_letters(amqp_uri)}")


def test_failing_handler_is_retried_then_dead_lettered_and_replay_reruns_it(migrated, run_services, amqp_uri):
    handler_fails["on"] = True
    run_services(Notification)
    payload = make_event("registration", "exporter_registered", EXPORTER, "corr-2")
    with Connection(amqp_uri) as conn:
        conn.Producer().publish(
            payload,
            exchange=Exchange("registration.events", type="topic", durable=True),
            routing_key="exporter_registered",
            serializer="json",
        )
    dead = wait_for_dead_letters(amqp_uri, 1)
    assert len(dead) == 1
    assert dead[0]["attempts"] == 3  # the first try and two retries
    assert dead[0]["event_id"] == payload["event_id"]
    assert "mail server down" in dead[0]["error"]
    assert dead[0]["queue"].endswith("--notification.on_exporter_registered")
    # Listing leaves it there for the operator.
    assert len(dlq.list_dead_letters(amqp_uri)) == 1
    assert handled == [] and rows(migrated, "notification", InboxRecord) == 0

    listed = CliRunner().invoke(opencoo, ["dlq", "list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.output) == dead
    unknown = CliRunner().invoke(opencoo, ["dlq", "replay", "no-such-id"])
    assert unknown.exit_code != 0 and "not found: no-such-id" in unknown.output
    assert len(dlq.list_dead_letters(amqp_uri)) == 1

    handler_fails["on"] = False  # the operator fixed the cause
    replayed = CliRunner().invoke(opencoo, ["dlq", "replay", dead[0]["id"]])
    assert replayed.exit_code == 0 and "replayed 1 dead letter" in replayed.output
    deadline = time.time() + 5
    while time.time() < deadline and not handled:
        eventlet.sleep(0.05)
    assert handled == [payload["event_id"]]
    assert dlq.list_dead_letters(amqp_uri) == []


def test_rpc_to_a_stopped_service_times_out_within_the_configured_time(migrated, run_services, rpc_client):
    signing = run_services(Signing)
    run_services(Caller)
    client = rpc_client()
    assert client.certificate.ask_signing()["service"] == "signing"

    signing.stop()  # its queue stays, nobody consumes
    started = time.time()
    with pytest.raises(RpcTimeout) as raised:  # the caller sees our own error class
        client.certificate.ask_signing()
    elapsed = time.time() - started
    assert isinstance(raised.value, RpcTimeout)  # 504 at the gateway
    assert "'signing' did not answer health within 1s" in raised.value.message
    assert 0.9 <= elapsed < 2.5


def test_rpc_to_a_service_that_never_ran_is_unavailable_at_once(migrated, run_services, rpc_client):
    run_services(Caller)
    client = rpc_client()
    started = time.time()
    with pytest.raises(ServiceUnavailable, match="'signing' is not running"):
        client.certificate.ask_signing()
    assert time.time() - started < 1


def test_remote_errors_keep_their_class_for_the_caller():
    from nameko.exceptions import deserialize, serialize

    import services.chassis.rpc  # noqa: F401  (the transport registers the domain errors)

    err = RpcTimeout("late", extra={"service": "signing"})
    back = deserialize(serialize(err))
    assert isinstance(back, RpcTimeout)
    assert back.extra == {"service": "signing"} and back.message == "late"
    assert isinstance(deserialize(serialize(ServiceUnavailable("x"))), ServiceUnavailable)
