"""Names on the broker that producers and consumers agree on.

The producer knows only the exchange and the routing keys (event types); each
consuming service owns, declares and binds its queues, so no queue name is
here: the worker's are in ``courier_worker.queues``, derived from the handlers
it declares.
"""

from __future__ import annotations

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
