"""An issuing agency's own system (examples/agency_consumer.py, plain kombu) against the real broker
and the platform's real outbox relay: by its binding alone it receives its own agency's events, and
none of another agency's; what is published while it is down waits for it; a repeated delivery is
handled once."""

import ast
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import eventlet
import pytest
import requests
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Queue
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from examples import agency_consumer
from services.chassis.config import database_url
from services.chassis.database import UnitOfWork, make_engine
from services.chassis.migrations import upgrade
from services.chassis.models import OutboxRecord
from services.chassis.outbox import OutboxRelay

EXAMPLE = Path(agency_consumer.__file__)
OFFICES = {"MPEDA": "MPEDA-KOCHI", "EIC": "EIC-MUMBAI"}


class Platform:
    """The application and certificate services' outboxes (chassis UnitOfWork.emit) and their
    outbox relays, publishing to the test's broker as the running services do."""

    def __init__(self, amqp_uri):
        self.factories, self.relays, self.engines = {}, {}, []
        for service in ("application", "certificate"):
            upgrade(service)
            engine = make_engine(database_url(service))
            self.engines.append(engine)
            self.factories[service] = sessionmaker(engine, expire_on_commit=False)
            self.relays[service] = OutboxRelay(service, self.factories[service], amqp_uri, eventlet.spawn)

    def emit(self, service, event_type, data) -> dict:
        uow = UnitOfWork(service, self.factories[service], lambda: None)
        payload = uow.emit(event_type, data)
        uow.commit()
        uow.close()
        return payload

    def relay(self):
        """Publish every committed event (publisher confirms: routed once this returns)."""
        for relay in self.relays.values():
            while relay.publish_pending():
                pass

    def relay_again(self, service, event_id):
        """What a relay does after dying between publishing a row and marking it published."""
        with self.factories[service]() as session:
            session.execute(
                update(OutboxRecord)
                .where(OutboxRecord.event_id == event_id)
                .values(published_at=None, claimed_by=None, claimed_until=None)
            )
            session.commit()
        self.relay()

    # The events, with the fields their producers fill.
    @staticmethod
    def _application(agency, n):
        return {
            "application_id": str(uuid.uuid4()),
            "application_number": f"{agency}/2026/013/{n:07d}A",
            "iec": "AAACM1234F",
            "agency_code": agency,
            "issuing_office_code": OFFICES[agency],
        }

    def application_submitted(self, agency, n):
        return self.emit(
            "application", "application_submitted", {**self._application(agency, n), "agreement_code": "013"}
        )

    def discrepancy_raised(self, agency, n):
        return self.emit(
            "application",
            "discrepancy_raised",
            {**self._application(agency, n), "comment": "The invoice is not signed."},
        )

    def certificate_issued(self, agency, n):
        number = f"{agency}/2026/013/{n:07d}A"
        return self.emit(
            "certificate",
            "certificate_issued",
            {
                "certificate_id": str(uuid.uuid4()),
                "certificate_number": number,
                "application_id": str(uuid.uuid4()),
                "iec": "AAACM1234F",
                "sha256": "ab" * 32,
                "url": f"http://127.0.0.1:8000/api/v1/verify?number={number}",
                "agency_code": agency,
                "issuing_office_code": OFFICES[agency],
            },
        )

    def close(self):
        for relay in self.relays.values():
            relay.stop()
        for engine in self.engines:
            engine.dispose()


@pytest.fixture
def platform_events(platform_env, amqp_uri):
    platform = Platform(amqp_uri)
    yield platform
    platform.close()


@pytest.fixture
def broker_account(amqp_uri):
    """``make(configure, write, read)`` gives the URI of a new broker user with only those
    permissions (regular expressions) on the test's vhost, as an operator grants an agency."""
    from tests.conftest import _broker

    admin, admin_password, host, port, api = _broker()
    vhost = unquote(urlparse(amqp_uri).path[1:])
    made = []

    def make(configure, write, read):
        user, password = f"agency-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
        requests.put(
            f"{api}/users/{user}",
            auth=(admin, admin_password),
            timeout=10,
            json={"password": password, "tags": ""},
        ).raise_for_status()
        made.append(user)
        requests.put(
            f"{api}/permissions/{quote(vhost, safe='')}/{user}",
            auth=(admin, admin_password),
            timeout=10,
            json={"configure": configure, "write": write, "read": read},
        ).raise_for_status()
        return f"amqp://{user}:{password}@{host}:{port}/{quote(vhost, safe='')}"

    yield make
    for user in made:
        requests.delete(f"{api}/users/{user}", auth=(admin, admin_password), timeout=10)


def consume(amqp_uri, agency, limit=None, wait=15, **kwargs):
    """Run the example consumer in this greenthread until ``limit`` messages (or ``wait``
    seconds); returns (handled events, counts)."""
    handled, stop = [], threading.Event()
    timer = eventlet.spawn_after(wait, stop.set)
    try:
        counts = agency_consumer.run(amqp_uri, agency, handled.append, stop_event=stop, limit=limit, **kwargs)
    finally:
        timer.cancel()
    return handled, counts


def waiting(amqp_uri, queue_name):
    with Connection(amqp_uri) as conn:
        return conn.default_channel.queue_declare(queue_name, passive=True).message_count


def ids(events):
    return sorted(e["event_id"] for e in events)


def test_each_agency_receives_exactly_its_own_events_by_its_binding(platform_events, amqp_uri):
    with Connection(amqp_uri) as conn:  # both agencies' systems were set up once, then stopped
        for agency in OFFICES:
            agency_consumer.declare_topology(conn.channel(), agency)

    mpeda = [
        platform_events.application_submitted("MPEDA", 1),
        platform_events.discrepancy_raised("MPEDA", 1),
        platform_events.certificate_issued("MPEDA", 1),
    ]
    eic = [platform_events.application_submitted("EIC", 2), platform_events.certificate_issued("EIC", 2)]
    platform_events.relay()

    # Routed by the broker alone, before any consumer code runs.
    assert waiting(amqp_uri, "agency.MPEDA.events") == 3
    assert waiting(amqp_uri, "agency.EIC.events") == 2

    got, counts = consume(amqp_uri, "MPEDA", limit=3)
    assert ids(got) == ids(mpeda)
    assert {e["event_type"] for e in got} == {
        "application_submitted",
        "discrepancy_raised",
        "certificate_issued",
    }
    assert all(e["agency_code"] == "MPEDA" for e in got)
    assert counts == {"received": 3, "handled": 3, "duplicates": 0, "rejected": 0}

    got, _ = consume(amqp_uri, "EIC", limit=2)
    assert ids(got) == ids(eic)
    assert {e["event_type"] for e in got} == {"application_submitted", "certificate_issued"}

    # Everything was acknowledged; nothing else was routed to either agency.
    assert waiting(amqp_uri, "agency.MPEDA.events") == 0
    assert waiting(amqp_uri, "agency.EIC.events") == 0
    assert consume(amqp_uri, "MPEDA", wait=1)[0] == []


def test_events_published_while_the_consumer_is_down_arrive_when_it_starts(platform_events, amqp_uri):
    stop, handled = threading.Event(), []
    # The agency's system runs (its first start declares the queue) and handles a live event.
    running = eventlet.spawn(
        agency_consumer.run, amqp_uri, "MPEDA", handled.append, stop_event=stop, poll_seconds=0.1
    )
    deadline = eventlet.Timeout(15)
    try:
        while True:
            try:
                waiting(amqp_uri, "agency.MPEDA.events")
                break
            except Exception:  # not declared yet
                eventlet.sleep(0.05)
        live = platform_events.application_submitted("MPEDA", 1)
        platform_events.relay()
        while not handled:
            eventlet.sleep(0.05)
    finally:
        deadline.cancel()
    stop.set()
    running.wait()
    assert ids(handled) == [live["event_id"]]

    # It is down while the platform goes on.
    while_down = [
        platform_events.certificate_issued("MPEDA", 1),
        platform_events.application_submitted("EIC", 2),
        platform_events.application_submitted("MPEDA", 3),
    ]
    platform_events.relay()

    got, counts = consume(amqp_uri, "MPEDA", limit=2)
    assert ids(got) == ids([while_down[0], while_down[2]])
    assert waiting(amqp_uri, "agency.MPEDA.events") == 0


def test_a_repeated_delivery_is_handled_once(platform_events, amqp_uri):
    with Connection(amqp_uri) as conn:
        agency_consumer.declare_topology(conn.channel(), "MPEDA")
    event = platform_events.application_submitted("MPEDA", 1)
    platform_events.relay()
    platform_events.relay_again("application", event["event_id"])  # at-least-once: twice
    assert waiting(amqp_uri, "agency.MPEDA.events") == 2

    got, counts = consume(amqp_uri, "MPEDA", limit=2)
    assert got == [event]
    assert counts == {"received": 2, "handled": 1, "duplicates": 1, "rejected": 0}
    assert waiting(amqp_uri, "agency.MPEDA.events") == 0  # the duplicate was acknowledged too


def test_an_unreadable_message_is_parked_not_lost(platform_events, amqp_uri):
    with Connection(amqp_uri) as conn:
        agency_consumer.declare_topology(conn.channel(), "MPEDA")
        conn.Producer().publish(
            b"not json",
            exchange=Exchange("application.events", type="topic", durable=True),
            routing_key="application_submitted",
            content_type="application/json",
            headers={"agency_code": "MPEDA"},
        )
    got, counts = consume(amqp_uri, "MPEDA", limit=1)
    assert got == [] and counts["rejected"] == 1
    assert waiting(amqp_uri, "agency.MPEDA.events.rejected") == 1


def test_an_agency_declares_its_own_topology_with_least_privilege(platform_events, amqp_uri, broker_account):
    """docs/events.md: configure and write on its own names, read on the platform's two
    exchanges, which the platform has declared already (--declare own)."""
    with Connection(amqp_uri) as conn:
        for source in agency_consumer.SOURCES:
            agency_consumer.source_exchange(source)(conn.channel()).declare()
    own = r"^agency\.MPEDA(\..*)?$"
    agency_uri = broker_account(own, own, r"^(application|certificate)\.events$|" + own)
    with pytest.raises(AccessRefused):  # it may not (re)declare the platform's exchanges
        consume(agency_uri, "MPEDA", wait=1)
    assert consume(agency_uri, "MPEDA", wait=0.5, declare="own")[0] == []  # declares, stops

    mine = platform_events.certificate_issued("MPEDA", 1)
    platform_events.certificate_issued("EIC", 2)
    platform_events.relay()
    assert consume(agency_uri, "MPEDA", limit=1, declare="own")[0] == [mine]


def test_with_the_topology_declared_by_the_operator_an_agency_sees_nothing_else(
    platform_events, amqp_uri, broker_account
):
    """docs/events.md, Isolation: a binding selects events but does not authorize anything; an
    account that may only read its own queue cannot bind another to see other agencies'."""
    with Connection(amqp_uri) as conn:  # the operator, once, when the agency joins
        agency_consumer.declare_topology(conn.channel(), "EIC")
    agency_uri = broker_account("^$", "^$", r"^agency\.EIC\.events$")
    theirs = platform_events.application_submitted("EIC", 1)
    platform_events.application_submitted("MPEDA", 2)
    platform_events.relay()

    got, counts = consume(agency_uri, "EIC", limit=1, declare="none")
    assert got == [theirs]
    with Connection(agency_uri) as conn:
        with pytest.raises(AccessRefused):
            Queue("agency.EIC.everything")(conn.channel()).queue_declare()
    with Connection(agency_uri) as conn:
        with pytest.raises(AccessRefused):
            conn.channel().queue_bind("agency.EIC.events", "application.events", "#")
    with Connection(agency_uri) as conn:
        with pytest.raises(AccessRefused):
            agency_consumer.declare_topology(conn.channel(), "EIC", declare_sources=False)


def test_the_command_prints_one_json_line_per_event(platform_events, amqp_uri):
    with Connection(amqp_uri) as conn:
        agency_consumer.declare_topology(conn.channel(), "EIC", "eic-system")
    sent = [
        platform_events.application_submitted("EIC", 1),
        platform_events.application_submitted("MPEDA", 2),
        platform_events.certificate_issued("EIC", 1),
    ]
    platform_events.relay()

    done = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--amqp",
            amqp_uri,
            "--agency",
            "EIC",
            "--queue",
            "eic-system",
            "--limit",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert ids(json.loads(line) for line in lines) == ids([sent[0], sent[2]])


def test_the_example_needs_neither_nameko_nor_opencoo():
    imported = set()
    for node in ast.walk(ast.parse(EXAMPLE.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"argparse", "json", "logging", "os", "socket", "sys", "time", "kombu"}
