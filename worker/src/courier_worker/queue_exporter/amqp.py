"""The queue exporter's conversation with the broker: kombu, with the worker's own user."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from amqp.exceptions import NotFound
from kombu import Connection, Consumer, Producer, Queue

from courier_worker.queue_exporter.state import QueueExporter
from courier_worker.queue_markers import MARKER_TYPE

log = structlog.get_logger(__name__)

#: Longest wait between two attempts to reach an unreachable broker.
MAX_BACKOFF = 30.0
#: Seconds a marker may take to be written and confirmed.
PUBLISH_TIMEOUT = 10.0


class KombuQueueBroker:
    """Counts by passive ``queue.declare`` (reads no message); markers with publisher confirms."""

    def __init__(self, connection: Connection, *, reply_to: str) -> None:
        self.connection = connection
        self.reply_to = reply_to
        self._inspect_channel: Any = connection.channel()
        self._producer = Producer(connection.channel())

    def inspect(self, queue: str) -> tuple[int, int] | None:
        try:
            _, ready, consumers = self._inspect_channel.queue_declare(queue=queue, passive=True)
        except NotFound:
            # The broker closed the channel with the 404: the next queue needs a new one.
            self._inspect_channel = self.connection.channel()
            return None
        return int(ready), int(consumers)

    def publish_marker(self, queue: str, body: bytes) -> None:
        # The connection has confirm_publish (the worker's broker_transport_options):
        # publish() returns once the broker has the marker.
        self._producer.publish(
            body,
            exchange="",
            routing_key=queue,
            content_type="application/json",
            content_encoding="utf-8",
            type=MARKER_TYPE,
            reply_to=self.reply_to,
            delivery_mode=2,
            retry=False,
            # A broker that stops answering must end the round (and so the session).
            timeout=PUBLISH_TIMEOUT,
            confirm_timeout=PUBLISH_TIMEOUT,
        )


def run(exporter: QueueExporter, connect: Callable[[], Connection], stop: threading.Event) -> None:
    """Measure every ``exporter.interval`` until ``stop`` is set, reconnecting with backoff."""
    backoff = 1.0
    while not stop.is_set():
        try:
            with connect() as connection:
                connection.ensure_connection(max_retries=1)
                backoff = 1.0
                _session(exporter, connection, stop)
        except Exception as exc:
            exporter.broker_lost(f"{type(exc).__name__}: {exc}")
            stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)


def _session(exporter: QueueExporter, connection: Connection, stop: threading.Event) -> None:
    # Exclusive: the broker deletes it with this connection; the same name is
    # declared again after a reconnect, so late answers still find it.
    replies = Queue(exporter.reply_queue, exclusive=True, auto_delete=True, durable=False)

    def on_answer(body: Any, message: Any) -> None:
        exporter.answered(message.body)

    broker = KombuQueueBroker(connection, reply_to=exporter.reply_queue)
    with Consumer(
        connection.channel(), [replies], callbacks=[on_answer], no_ack=True, accept=["json"]
    ):
        next_round = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_round:
                exporter.poll(broker)
                next_round = time.monotonic() + exporter.interval
            with contextlib.suppress(TimeoutError):  # nothing arrived: time for the next round?
                connection.drain_events(timeout=min(1.0, max(0.05, next_round - time.monotonic())))
