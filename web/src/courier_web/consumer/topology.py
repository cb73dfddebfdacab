"""The web's queue on the broker: a quorum queue bound to the event types it consumes.

The web owns these names; the worker never sees them. A message the broker
dead-letters (redelivered more than ``DELIVERY_LIMIT`` times) and one the
consumer refuses (``processing``) both end in the dead-letter queue, through
the web's own dead-letter exchange, so that the web's broker user can
publish its dead letters without any access to the worker's.
The broker definitions (``infra/rabbitmq/definitions.json``) declare the same
queue, exchange and bindings for production; a test keeps them equal.
"""

from __future__ import annotations

from typing import Any

from pika.adapters.blocking_connection import BlockingChannel
from shared_contracts.topology import EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE

from courier_web.consumer.registry import consumptions

RESULTS_QUEUE = "courier.web.results"
DEAD_LETTER_EXCHANGE = "courier.web.dead-letter"
DEAD_LETTER_QUEUE = f"{RESULTS_QUEUE}.dead-letter"
#: A message redelivered this many times (a handler that keeps failing) is dead-lettered.
DELIVERY_LIMIT = 20


def routing_keys() -> tuple[str, ...]:
    """The event types the web's queue is bound by: those with a declared handler."""
    return tuple(consumption.event_type for consumption in consumptions())


def queue_arguments() -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
        "x-delivery-limit": DELIVERY_LIMIT,
    }


def declare(channel: BlockingChannel, *, passive: bool) -> None:
    """Declare (or, ``passive``, only check) the queue, its dead letters and its bindings."""
    if passive:
        channel.queue_declare(RESULTS_QUEUE, passive=True)
        return
    channel.exchange_declare(EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE, durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, "direct", durable=True)
    channel.queue_declare(DEAD_LETTER_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, routing_key=DEAD_LETTER_QUEUE)
    channel.queue_declare(RESULTS_QUEUE, durable=True, arguments=queue_arguments())
    for key in routing_keys():
        channel.queue_bind(RESULTS_QUEUE, EVENTS_EXCHANGE, routing_key=key)
