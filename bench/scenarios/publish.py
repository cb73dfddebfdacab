"""Publish section, run in its own process with Django set up on the bench database.

``python -m bench.scenarios.publish --count N --reps R --out FILE`` seeds N
pending outbox rows (``diagnostic.probe_sent.v1``, through the real
``outbox_enqueue``), then, per repetition and in rotating order:

* ``courier``: the real ``Relay`` (``--once``, grace 0, default batch size)
  drains the N pending rows until every one is confirmed and marked sent;
* ``raw_pika``: pika publishes the same N encoded messages (``mandatory``) in
  batches of the relay's ``OUTBOX_BATCH_SIZE``, waiting for every confirm of a
  batch before the next one, which is the relay's confirm strategy: the
  ceiling for that strategy;
* ``celery_confirmed``: Celery's ``send_task`` with ``confirm_publish=True``
  sends the same events (same task name, id, kwargs, exchange, routing key),
  the first ``--subset`` of them (see below);
* ``raw_pika_windowed`` (extra): pika with asynchronous confirms, up to 256
  unconfirmed messages in flight: what a sliding window could reach;
* ``raw_pika_sync`` (extra, first repetition only): a ``BlockingChannel``
  waiting for each confirm before the next publish (the relay's strategy
  before batching), the first ``--subset`` messages.

The two variants that wait for a confirm per message (~1,400 and ~2,000
msg/s here) publish only the first ``--subset`` messages (default 3,000; all
if N is smaller): a steady per-message cost, so the rest would add ~20 s to a
full run for the same figure. Their rates are computed on that subset
(``counts`` in ``FILE``).

With ``--go PATH`` the scenario waits, once seeded, until ``PATH`` exists
before its first run: the bench starts other processes meanwhile and says go
once they are idle. Between runs the queue is purged and the rows are reset
to pending. Timings
include opening the connection. Results (seconds per run, messages per
variant, and where the scenario's own wall time went) go to ``FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import django
from courier_worker.queues import BULK
from shared_contracts import WireMessage

#: Extras measured in the first repetition only: the slowest variant, and no goal
#: depends on it.
ONCE = frozenset({"raw_pika_sync"})
WINDOW = 256
#: The variants waiting for a confirm per message: they publish the first ``--subset``.
SUBSET = frozenset({"celery_confirmed", "raw_pika_sync"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--reps", type=int, required=True)
    parser.add_argument("--subset", type=int, default=3_000, help="of the per-message variants")
    parser.add_argument("--go", type=Path, help="wait for this file before measuring")
    parser.add_argument("--out", required=True)
    parser.add_argument("--variants", nargs="*", help="only these (profiling)")
    args = parser.parse_args()
    began = time.perf_counter()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courier_web.config.settings.base")
    django.setup()

    from django.conf import settings

    from bench.progress import say

    url = os.environ["RABBITMQ_URL"]
    batch = settings.OUTBOX_BATCH_SIZE
    say(f"publish: seeding {args.count} pending outbox rows")
    seeding = time.perf_counter()
    wires = _seed(args.count)
    timing = {"django": seeding - began, "seed": time.perf_counter() - seeding}
    timing.update(measured=0.0, resets=0.0, checks=0.0)
    if args.go:
        waiting = time.perf_counter()
        deadline = time.monotonic() + 300  # bounded
        while not args.go.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"publish: no go ({args.go}) after 300 s")
            time.sleep(0.02)
        timing["wait for go"] = time.perf_counter() - waiting
    subset = wires[: args.subset]
    variants: dict[str, Callable[[], None]] = {
        "courier": lambda: _relay(args.count),
        "raw_pika": lambda: _raw_pika_async(url, wires, window=batch, batched=True),
        "celery_confirmed": lambda: _celery(url, subset),
        "raw_pika_windowed": lambda: _raw_pika_async(url, wires, window=WINDOW, batched=False),
        "raw_pika_sync": lambda: _raw_pika_sync(url, subset),
    }
    names = [name for name in variants if not args.variants or name in args.variants]
    counts = {name: len(subset if name in SUBSET else wires) for name in names}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(args.reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            if rep and name in ONCE:
                continue
            resetting = time.perf_counter()
            _reset(url)
            started = time.perf_counter()
            variants[name]()
            elapsed = time.perf_counter() - started
            timing["resets"] += started - resetting
            timing["measured"] += elapsed
            checking = time.perf_counter()
            _check_delivered(url, counts[name], name)
            timing["checks"] += time.perf_counter() - checking
            seconds[name].append(elapsed)
            say(f"publish rep {rep + 1}/{args.reps} {name}: {counts[name] / elapsed:,.0f} msg/s")
    _reset(url)
    with open(args.out, "w") as out:  # noqa: PTH123
        document = {"count": args.count, "counts": counts, "seconds": seconds, "timing": timing}
        json.dump(document, out)


def _seed(count: int) -> list[WireMessage]:
    from courier_web.outbox.models import OutboxMessage
    from courier_web.outbox.publishing import wire_message
    from courier_web.outbox.writing import outbox_enqueue
    from django.db import transaction
    from shared_contracts import ProbeSent

    with transaction.atomic():
        for i in range(count):
            outbox_enqueue(ProbeSent(sequence=i, note="bench-publish"), correlation_id=f"pub-{i}")
    return [wire_message(row) for row in OutboxMessage.objects.order_by("pk")]


def _reset(url: str) -> None:
    from courier_web.outbox.models import OutboxMessage, OutboxStatus

    from bench.broker import purge

    purge(url, BULK.name)
    OutboxMessage.objects.update(status=OutboxStatus.PENDING, sent_at=None, attempts=0)


def _check_delivered(url: str, count: int, name: str) -> None:
    from courier_web.outbox.models import OutboxMessage, OutboxStatus

    from bench.broker import queue_counts

    ready = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ready < count:
        ready, _ = queue_counts(url, BULK.name)
        if ready < count:
            time.sleep(0.05)
    if ready != count:
        raise RuntimeError(f"{name}: {ready} of {count} messages reached the queue")
    if name == "courier":
        sent = OutboxMessage.objects.filter(status=OutboxStatus.SENT).count()
        if sent != count:
            raise RuntimeError(f"relay marked {sent} of {count} rows sent")


def _relay(count: int) -> None:
    from courier_web.outbox.backoff import Backoff
    from courier_web.outbox.broker import BrokerOptions
    from courier_web.outbox.publisher import PikaPublisher
    from courier_web.outbox.relay import Relay, RelayConfig
    from django.conf import settings

    relay = Relay(
        PikaPublisher(BrokerOptions.from_settings(connection_name="courier-bench relay")),
        RelayConfig(
            batch_size=settings.OUTBOX_BATCH_SIZE,
            poll_interval=settings.OUTBOX_POLL_INTERVAL,
            grace=0.0,
            retention=None,
        ),
        backoff=Backoff(initial=0.5, maximum=30.0),
        broker="bench",
    )
    stats = relay.run(once=True)
    if stats.sent != count:
        raise RuntimeError(f"relay sent {stats.sent} of {count}: {stats}")


def _raw_pika_sync(url: str, wires: Sequence[WireMessage]) -> None:
    import pika

    from bench.publishing import properties

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        chan = connection.channel()
        chan.confirm_delivery()
        for wire in wires:
            chan.basic_publish(
                wire.exchange, wire.routing_key, wire.body, properties(wire), mandatory=True
            )
    finally:
        connection.close()


def _celery(url: str, wires: Sequence[WireMessage]) -> None:
    from celery import Celery
    from courier_worker.topology import consuming_queues
    from shared_contracts import CORRELATION_ID_HEADER, EVENTS_EXCHANGE

    app = Celery("courier-bench-producer", set_as_current=False)
    app.conf.update(
        broker_url=url,
        broker_transport_options={"confirm_publish": True},
        task_serializer="json",
        accept_content=["json"],
        task_queues=list(consuming_queues()),
        task_default_queue=BULK.name,
        task_create_missing_queues=False,
    )
    try:
        for wire in wires:
            kwargs = json.loads(wire.body)[1]
            app.send_task(
                wire.headers["task"],
                kwargs=kwargs,
                task_id=wire.headers["id"],
                exchange=EVENTS_EXCHANGE,
                routing_key=wire.routing_key,
                headers={CORRELATION_ID_HEADER: wire.headers[CORRELATION_ID_HEADER]},
            )
    finally:
        app.close()


def _raw_pika_async(url: str, wires: Sequence[WireMessage], *, window: int, batched: bool) -> None:
    """Asynchronous confirms, at most ``window`` unconfirmed; returns once all are confirmed.

    ``batched``: publish ``window`` messages, wait for all their confirms, repeat
    (the relay's strategy); otherwise a sliding window.
    """
    from bench.publishing import publish_confirmed

    publish_confirmed(url, wires, window=window, batched=batched, timeout=300)


if __name__ == "__main__":
    main()
