"""Names on the broker that producers and consumers agree on.

The producer knows only the exchange and the routing keys (event types); each
consuming service owns, declares and binds its queues. The worker's queues are
listed here because operators' tools and the broker definitions in ``infra/``
need the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The one durable topic exchange every event is published to.
EVENTS_EXCHANGE = "courier.events"
EVENTS_EXCHANGE_TYPE = "topic"

#: Where a consumer's refused or exhausted messages are routed, by queue name.
DEAD_LETTER_EXCHANGE = "courier.dead-letter"

#: Header naming why a message was dead-lettered (an ``errors.*.reason``).
DEAD_LETTER_REASON_HEADER = "x-courier-dead-letter-reason"
#: Header carrying the human-readable detail of that reason.
DEAD_LETTER_DETAIL_HEADER = "x-courier-dead-letter-detail"
#: Header carrying the envelope's correlation id beside the Celery headers.
CORRELATION_ID_HEADER = "x-courier-correlation-id"


def routing_key(event_type: str) -> str:
    """The routing key of an event type is the type itself, major version included."""
    return event_type


@dataclass(frozen=True)
class QueueSpec:
    """A consumer-owned queue and the event types it is bound to."""

    name: str
    routing_keys: tuple[str, ...]

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead-letter"

    def delay_queue(self, seconds: int) -> str:
        return f"{self.name}.delay.{seconds}s"


#: The worker's queue for events whose side effects users wait for.
WORKER_CRITICAL = QueueSpec("courier.worker.critical", ("user.registered.v1",))
#: The worker's queue for background and bulk work.
WORKER_BULK = QueueSpec("courier.worker.bulk", ("diagnostic.probe_sent.v1",))
WORKER_QUEUES: tuple[QueueSpec, ...] = (WORKER_CRITICAL, WORKER_BULK)
