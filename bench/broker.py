"""The worker's queues in a vhost of the run: declared, counted, purged, watched draining."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pika
from kombu import Connection
from pika.adapters.blocking_connection import BlockingChannel


def broker_version(url: str) -> str:
    """The RabbitMQ version the broker announces when a connection opens."""
    with Connection(url) as connection:
        connection.connect()
        version = connection.connection.server_properties.get("version", "?")
    return version.decode() if isinstance(version, bytes) else str(version)


@contextlib.contextmanager
def channel(url: str) -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def declare_worker_queues(url: str) -> None:
    """The worker's consuming queues, bound to the events exchange, exactly as it declares them."""
    from courier_worker.topology import consuming_queues

    with Connection(url) as connection:
        chan = connection.channel()
        for queue in consuming_queues():
            queue(chan).declare()


def queue_counts(url: str, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of ``queue``."""
    with channel(url) as chan:
        method = chan.queue_declare(queue, passive=True).method
        return method.message_count, method.consumer_count


def purge(url: str, *queues: str) -> None:
    with channel(url) as chan:
        for queue in queues:
            chan.queue_purge(queue)


def wait_settled_count(
    url: str, queue: str, expected: int, slack: int, timeout: float = 30.0, poll: float = 0.03
) -> int:
    """The ready count of ``queue`` once it has stopped moving, within ``slack`` of ``expected``.

    After a confirmed fill, a paused (SIGSTOPped) consumer still subscribed to
    the queue has been handed up to its prefetch window: those messages are no
    longer "ready". Returns the count once 3 samples in a row agree.
    """
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    with channel(url) as chan:
        while time.monotonic() < deadline:
            seen = [*seen[-2:], chan.queue_declare(queue, passive=True).method.message_count]
            if len(seen) == 3 and len(set(seen)) == 1 and expected - slack <= seen[0] <= expected:
                return seen[0]
            time.sleep(poll)
    raise RuntimeError(f"{queue}: ready count {seen} not settled near {expected} after {timeout}s")


def wait_ready_count(url: str, queue: str, expected: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    count = 0
    with channel(url) as chan:
        while time.monotonic() < deadline:
            count = chan.queue_declare(queue, passive=True).method.message_count
            if count >= expected:
                return
            time.sleep(0.05)
    raise RuntimeError(f"{queue}: {count} of {expected} messages after {timeout}s")


def measure_drain(url: str, queue: str, total: int, timeout: float, poll: float = 0.02) -> float:
    """Events per second at which the consumers drain ``queue``, in steady state.

    Polls the queue's ready count (a passive declare, every ``poll`` s). The
    clock starts at the first sample below ``total`` (the consumers are up and
    fetching; the messages they already took are not counted) and stops at the
    first sample at 0; rate = messages still ready at the start / elapsed.
    Startup time is excluded; what is left in flight at the end (at most the
    prefetch window) is the measure's error, well under 1 % at these sizes.
    A queue so small that it drains between two samples (``--smoke``) gives
    ``total`` / the time since the last sample at ``total``: a lower bound.
    """
    deadline = time.monotonic() + timeout
    started: float | None = None
    at_start = 0
    last_full = time.monotonic()
    with channel(url) as chan:
        while time.monotonic() < deadline:
            count = chan.queue_declare(queue, passive=True).method.message_count
            now = time.monotonic()
            if started is None:
                if count >= total:
                    last_full = now
                elif count > 0:
                    started, at_start = now, count
                else:
                    return total / (now - last_full)
            elif count == 0:
                return at_start / (now - started)
            time.sleep(poll)
    raise RuntimeError(f"{queue} not drained within {timeout}s")


__all__ = [
    "broker_version",
    "channel",
    "declare_worker_queues",
    "measure_drain",
    "purge",
    "queue_counts",
    "wait_ready_count",
    "wait_settled_count",
]
