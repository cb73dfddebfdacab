"""How long the oldest message of a queue has been waiting, measured with marker messages.

"Waiting" means no worker has taken the message in yet: it is ready in the
queue, or the broker pushed it to a worker process that has not read it
(one that hangs). With live workers that is exactly RabbitMQ's "ready".

Quorum queues do not say when their head message arrived: RabbitMQ's
``head_message_timestamp`` (management API, ``rabbitmq_prometheus``) exists
for classic queues only, and reading the head over AMQP 0-9-1 means
delivering it: a ``basic.get`` followed by a requeue counts as a delivery (a
quorum queue dead-letters a message after ``x-delivery-limit`` of them) and,
on RabbitMQ 4, puts the message at the back of the queue. So nothing here
reads the queue's messages. The exporter measures instead: every
``interval`` it publishes a small *marker* message to each work queue, and
the worker that takes one in answers it at once (``queue_markers.py``).

A queue delivers in the order it received (FIFO), and a worker reads its
deliveries in order, so:

* while a marker published at ``t`` is unanswered, it is itself waiting: the
  oldest waiting message is **at least** ``now - t`` old;
* once a marker published at ``t`` was answered, every message enqueued
  before ``t`` was taken in: what still waits arrived after the last answered
  marker, at most one ``interval`` before the oldest unanswered one.

So the reported age (``oldest_age``: the oldest unanswered marker's) is never
more than the truth and at most one ``interval`` less. Two exceptions break
the order: a message requeued because its worker died counts from when it
became ready again, and messages pushed to a hung worker (until the broker's
heartbeat timeout closes its connection and requeues them) are missed while
other workers answer markers.

This module does no I/O; ``queue_exporter`` drives it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

#: Markers left unanswered per queue before the exporter stops adding more
#: (a queue without consumers for ~4 h at the default interval): the age stays
#: right, since the oldest marker is kept; only the finer steps stop.
MAX_OUTSTANDING = 1000


@dataclass(frozen=True)
class Marker:
    sequence: int
    published_at: float


class MarkerBook:
    """The markers one exporter published to one queue and has not seen answered, oldest first."""

    def __init__(self, max_outstanding: int = MAX_OUTSTANDING) -> None:
        self.max_outstanding = max_outstanding
        self._outstanding: deque[Marker] = deque()
        self._next_sequence = 1

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    @property
    def full(self) -> bool:
        return len(self._outstanding) >= self.max_outstanding

    def next_sequence(self) -> int:
        return self._next_sequence

    def published(self, sequence: int, at: float) -> None:
        """The broker confirmed marker ``sequence``, published at ``at``."""
        self._outstanding.append(Marker(sequence, at))
        self._next_sequence = max(self._next_sequence, sequence + 1)

    def answered(self, sequence: int) -> None:
        """A worker received marker ``sequence``: it and every older marker left the queue."""
        while self._outstanding and self._outstanding[0].sequence <= sequence:
            self._outstanding.popleft()

    def observed_ready(self, ready: int, at: float) -> None:
        """The broker said ``ready`` messages were ready at ``at``.

        Ready messages are the newest ones (FIFO), so at most the newest
        ``ready`` markers published before ``at`` can still be among them;
        older ones were delivered even if their answer was lost (say, to a
        broker restart that took the exporter's reply queue with it).
        """
        before = [m for m in self._outstanding if m.published_at < at]
        stale = max(0, len(before) - max(0, ready))
        for _ in range(stale):
            self._outstanding.popleft()

    def forget(self) -> None:
        """The queue is gone (or was replaced): none of its markers can be answered."""
        self._outstanding.clear()

    def oldest_age(self, now: float) -> float:
        """Seconds since the oldest unanswered marker was published; 0 when none is."""
        if not self._outstanding:
            return 0.0
        return max(0.0, now - self._outstanding[0].published_at)


__all__ = ["MAX_OUTSTANDING", "Marker", "MarkerBook"]
