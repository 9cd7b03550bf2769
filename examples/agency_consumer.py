"""An issuing agency's system receiving its own OpenCoO events, with plain kombu.

    python examples/agency_consumer.py --amqp amqp://user:password@host:5672/vhost --agency MPEDA

It needs nothing of OpenCoO (no nameko, no ``services`` package): only kombu and the published
contract of docs/events.md. Its topology, declared idempotently:

    application.events, certificate.events   the platform's topic exchanges
        |  exchange-to-exchange bindings, routing key "#"
        v
    agency.MPEDA                             the agency's durable headers exchange
        |  binding arguments {"x-match": "all", "agency_code": "MPEDA"}
        v
    agency.MPEDA.events                      the agency's durable queue (messages it rejects
                                             are dead-lettered through agency.MPEDA.rejected to
                                             the queue agency.MPEDA.events.rejected)

so the broker delivers only events whose ``agency_code`` header is MPEDA; the code below filters
nothing. Messages wait in the durable queue while the consumer is down.

Who declares it (``--declare``):
  all   (default) everything, the platform's two exchanges included (same declaration as the
        platform's, so it changes nothing): for a development broker.
  own   only the agency's exchange, bindings and queues; the platform's exchanges must exist.
  none  nothing: the platform's operator declared the topology (``--declare-only`` with an
        operator's account) and this account may only read its queue, so that it can see no
        other agency's events (docs/events.md, "Isolation").

Each event is printed as one JSON line on stdout and acknowledged only after that. Delivery is
at-least-once, so the consumer drops an event_id it has already handled. This example remembers
event_ids in memory, which is enough for one run; a real system records the event_id in the same
database transaction as the event's effect (and rejects a duplicate by a unique key).
"""

import argparse
import json
import logging
import os
import socket
import sys
import time

from kombu import Connection, Exchange, Queue

log = logging.getLogger("agency_consumer")

SOURCES = ("application", "certificate")  # the exchanges <source>.events an agency binds
DECLARE = ("all", "own", "none")


def source_exchange(source: str) -> Exchange:
    # Exactly the platform's declaration (durable topic), so declaring it again changes nothing.
    return Exchange(f"{source}.events", type="topic", durable=True)


def agency_exchange(agency: str) -> Exchange:
    return Exchange(f"agency.{agency}", type="headers", durable=True)


def parking_exchange(agency: str) -> Exchange:
    return Exchange(f"agency.{agency}.rejected", type="fanout", durable=True)


def agency_queue(agency: str, queue_name: str | None = None) -> Queue:
    return Queue(
        queue_name or f"agency.{agency}.events",
        exchange=agency_exchange(agency),
        durable=True,
        # Only events whose agency_code header is this agency's.
        binding_arguments={"x-match": "all", "agency_code": agency},
        # A message the consumer rejects is parked, not lost. (Through an exchange of the
        # agency's own: dead-lettering through the default exchange would need write access to
        # every queue of the virtual host.)
        queue_arguments={"x-dead-letter-exchange": parking_exchange(agency).name},
    )


def declare_topology(
    channel, agency: str, queue_name: str | None = None, declare_sources: bool = True
) -> Queue:
    """Declare (idempotently) the agency's exchange, its bindings and its durable queues; returns
    the queue bound to ``channel``. Events routed before the first declaration are not kept:
    declare once, before relying on the queue."""
    if declare_sources:
        for source in SOURCES:
            source_exchange(source)(channel).declare()
    own = agency_exchange(agency)(channel)
    own.declare()
    for source in SOURCES:
        # Every event of the platform's exchanges reaches the agency's exchange, which passes on
        # to the queue only those that match the queue's binding arguments.
        own.bind_to(exchange=source_exchange(source), routing_key="#")
    queue = agency_queue(agency, queue_name)(channel)
    Queue(f"{queue.name}.rejected", exchange=parking_exchange(agency), durable=True)(channel).declare()
    queue.declare()
    return queue


def print_event(event: dict):
    print(json.dumps(event, sort_keys=True), flush=True)


def run(
    amqp_uri: str,
    agency: str,
    handler=print_event,
    *,
    queue_name: str | None = None,
    stop_event=None,
    limit: int | None = None,
    declare: str = "all",
    seen: set | None = None,
    poll_seconds: float = 0.5,
) -> dict:
    """Consume the agency's events, calling ``handler(event)`` once per event_id.

    Stops when ``stop_event`` (a threading.Event) is set or after ``limit`` messages were taken
    off the queue (duplicates included); otherwise runs until interrupted. A handler that raises
    puts its message back on the queue and stops the consumer with that exception. Returns counts:
    ``received`` messages, ``handled`` events, ``duplicates`` dropped, ``rejected`` unreadable.
    """
    if declare not in DECLARE:
        raise ValueError(f"declare must be one of {DECLARE}")
    seen = set() if seen is None else seen
    counts = {"received": 0, "handled": 0, "duplicates": 0, "rejected": 0}

    def on_message(message):
        counts["received"] += 1
        try:
            event = json.loads(message.body)
            event_id = event["event_id"]
            if not isinstance(event_id, str):
                raise TypeError("event_id is not a string")
        except (ValueError, TypeError, KeyError) as exc:
            log.error("rejecting an unreadable message (%s); it goes to %s.rejected", exc, queue.name)
            counts["rejected"] += 1
            message.reject(requeue=False)
            return
        if event_id in seen:
            counts["duplicates"] += 1
            message.ack()
            return
        try:
            handler(event)
        except BaseException:
            message.requeue()
            raise
        seen.add(event_id)
        counts["handled"] += 1
        message.ack()  # only once handled: a crash before this redelivers the event

    def done():
        return (stop_event is not None and stop_event.is_set()) or (
            limit is not None and counts["received"] >= limit
        )

    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        if declare == "none":
            queue = agency_queue(agency, queue_name)(channel)
        else:
            queue = declare_topology(channel, agency, queue_name, declare_sources=declare == "all")
        # prefetch 1 with a limit, so that no message beyond it is held and handed back.
        prefetch = 1 if limit is not None else 20
        with connection.Consumer(queue, on_message=on_message, prefetch_count=prefetch, auto_declare=False):
            while not done():
                try:
                    connection.drain_events(timeout=poll_seconds)
                except socket.timeout:
                    pass
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--amqp",
        default=os.environ.get("OPENCOO_AMQP_URI"),
        help="broker URI, e.g. amqp://user:password@host:5672/vhost",
    )
    parser.add_argument("--agency", required=True, help="the agency code, e.g. MPEDA")
    parser.add_argument("--queue", help="queue name (default agency.<AGENCY>.events)")
    parser.add_argument(
        "--limit", type=int, help="stop after this many messages (default: run until interrupted)"
    )
    parser.add_argument(
        "--declare", choices=DECLARE, default="all", help="what to declare before consuming (default all)"
    )
    parser.add_argument(
        "--declare-only",
        action="store_true",
        help="declare the topology (platform exchanges included) and exit",
    )
    args = parser.parse_args(argv)
    if not args.amqp:
        parser.error("--amqp is required (or set OPENCOO_AMQP_URI)")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    if args.declare_only:
        with Connection(args.amqp) as connection:
            queue = declare_topology(connection.channel(), args.agency, args.queue)
        log.info("declared the topology of agency %s (queue %s)", args.agency, queue.name)
        return
    log.info("consuming events of agency %s", args.agency)
    seen = set()  # kept across reconnections
    connection_errors = (OSError, *Connection(args.amqp).connection_errors)
    while True:
        try:
            counts = run(
                args.amqp,
                args.agency,
                queue_name=args.queue,
                limit=args.limit,
                declare=args.declare,
                seen=seen,
            )
            log.info("stopped: %s", counts)
            return
        except KeyboardInterrupt:
            return
        except connection_errors as exc:
            if args.limit is not None:
                raise
            log.warning("broker connection lost (%s); reconnecting in 5 s", exc)
            time.sleep(5)


if __name__ == "__main__":
    main()
