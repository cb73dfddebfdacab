"""The queue exporter's state: the latest counts and each work queue's markers (no I/O here)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from courier_worker.queue_age import MarkerBook
from courier_worker.queue_markers import REPLY_QUEUE_PREFIX, MarkerBody

log = structlog.get_logger(__name__)

DEFAULT_INTERVAL = 15.0
WORK, DEAD_LETTER, DELAY = "work", "dead-letter", "delay"


@dataclass(frozen=True)
class WatchedQueue:
    """A queue the exporter reports on; markers go to ``work`` queues only."""

    name: str
    kind: str


class QueueBroker(Protocol):
    """What one round needs from the broker."""

    def inspect(self, queue: str) -> tuple[int, int] | None:
        """``(ready, consumers)`` of ``queue``, or None when it does not exist."""

    def publish_marker(self, queue: str, body: bytes) -> None:
        """Publish ``body`` as a marker to ``queue``; return once the broker confirmed it."""


class QueueExporter:
    """The exporter's state: the latest counts and each work queue's markers (thread-safe)."""

    def __init__(
        self,
        queues: tuple[WatchedQueue, ...],
        *,
        interval: float = DEFAULT_INTERVAL,
        exporter_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queues = queues
        self.interval = interval
        self.exporter_id = (
            exporter_id or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        )
        self.reply_queue = f"{REPLY_QUEUE_PREFIX}{self.exporter_id}"
        self.clock = clock
        self._lock = threading.Lock()
        self._books = {q.name: MarkerBook() for q in queues if q.kind == WORK}
        self._counts: dict[str, tuple[int, int]] = {}
        self._missing: set[str] = set()
        self._broker_up = False
        self._last_round: float | None = None

    def poll(self, broker: QueueBroker) -> None:
        """One round: read every queue's counts, then publish a marker to each work queue."""
        for queue in self.queues:
            at = self.clock()
            counts = broker.inspect(queue.name)
            with self._lock:
                self._record(queue, counts, at)
            if counts is None or queue.kind != WORK:
                continue
            book = self._books[queue.name]
            if book.full:
                continue
            marker = MarkerBody(self.exporter_id, queue.name, book.next_sequence(), self.clock())
            broker.publish_marker(queue.name, marker.encode())
            with self._lock:
                book.published(marker.sequence, marker.published_at)
                if book.outstanding == book.max_outstanding:  # logged once, when it fills up
                    log.warning("queue_age.markers_capped", queue=queue.name, held=book.outstanding)
        with self._lock:
            if not self._broker_up:
                log.info("queue_exporter.broker_answers")
            self._broker_up = True
            self._last_round = self.clock()

    def _record(self, queue: WatchedQueue, counts: tuple[int, int] | None, at: float) -> None:
        book = self._books.get(queue.name)
        if counts is None:
            self._counts.pop(queue.name, None)
            if book is not None:
                book.forget()
            if queue.name not in self._missing:
                log.warning("queue_exporter.queue_missing", queue=queue.name)
                self._missing.add(queue.name)
            return
        if queue.name in self._missing:
            log.info("queue_exporter.queue_found", queue=queue.name)
            self._missing.discard(queue.name)
        self._counts[queue.name] = counts
        if book is not None:
            book.observed_ready(counts[0], at)

    def answered(self, body: bytes | str) -> None:
        """A worker sent back one of this exporter's markers."""
        marker = MarkerBody.decode(body)
        if marker is None or marker.exporter != self.exporter_id:
            return
        with self._lock:
            book = self._books.get(marker.queue)
            if book is not None:
                book.answered(marker.sequence)

    def broker_lost(self, error: str) -> None:
        """The broker stopped answering: the counts are unknown until it does again."""
        with self._lock:
            if self._broker_up:
                log.warning("queue_exporter.broker_unreachable", error=error[:300])
            self._broker_up = False
            self._counts.clear()

    def snapshot(self) -> tuple[bool, dict[str, tuple[int, int]], dict[str, float]]:
        """Broker up, the counts by queue, and each known work queue's oldest waiting age.

        Counts older than three rounds (a broker that stopped answering without
        closing the connection holds a round up) are not reported as current.
        """
        now = self.clock()
        with self._lock:
            ages = {
                name: book.oldest_age(now)
                for name, book in self._books.items()
                if name not in self._missing
            }
            fresh = self._last_round is not None and now - self._last_round <= 3 * self.interval
            if not (self._broker_up and fresh):
                return False, {}, ages
            return True, dict(self._counts), ages


def watched_queues(retry_delays: tuple[int, ...]) -> tuple[WatchedQueue, ...]:
    """The worker's queues: those a handler is declared on, their dead letters, their delays."""
    from courier_worker.topology import DEAD_LETTER_QUEUES, consuming_queues, delay_queues

    return (
        *(WatchedQueue(queue.name, WORK) for queue in consuming_queues()),
        *(WatchedQueue(queue.name, DEAD_LETTER) for queue in DEAD_LETTER_QUEUES),
        *(WatchedQueue(queue.name, DELAY) for queue in delay_queues(retry_delays)),
    )


__all__ = [
    "DEAD_LETTER",
    "DEFAULT_INTERVAL",
    "DELAY",
    "WORK",
    "QueueBroker",
    "QueueExporter",
    "WatchedQueue",
    "watched_queues",
]
