"""The worker's queues on the broker, built from ``queues.py`` and the handler declarations.

Every queue is a durable quorum queue bound to ``courier.events`` by the
event types of the handlers declared on it (``queues.routing_keys``), with a
dead-letter exchange: whatever the broker itself
dead-letters (a rejected message, one redelivered more than
``DELIVERY_LIMIT`` times) lands in that queue's own dead-letter queue.
Each consuming queue also has delay queues (``delay_queue``), one per retry
tier: quorum queues without consumers whose messages expire after the tier's
TTL and are dead-lettered, through the default exchange, back to the
consuming queue (``retry.py``).

Changing an argument here changes the queue's identity on the broker: an
existing queue declared with other arguments makes the worker fail to start
(``PRECONDITION_FAILED``), so the broker definitions in ``infra/`` must match.

The consuming queues are built by a function, ``consuming_queues()``, each
time they are needed, so that they reflect every declaration made so far
(a test's or a benchmark's too), not those made when this module was imported.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue, binding
from shared_contracts.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE

# Imported for its effect: every handler module is imported and declared, so
# the bindings read below (``routing_keys``) are complete.
import courier_worker.handlers  # noqa: F401
from courier_worker.queues import QUEUES, QueueSpec, routing_keys

#: A message redelivered this many times (e.g. it keeps killing its worker) is dead-lettered.
DELIVERY_LIMIT = 20

events_exchange = Exchange(EVENTS_EXCHANGE, type=EVENTS_EXCHANGE_TYPE, durable=True)
dead_letter_exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
#: The broker's default exchange: routes by queue name (delay queues, expired retries).
default_exchange = Exchange("")


def queue_arguments(spec: QueueSpec) -> dict[str, Any]:
    """The ``x-`` arguments of one of the worker's consuming queues."""
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": spec.dead_letter_queue,
        "x-delivery-limit": DELIVERY_LIMIT,
    }


def consuming_queue(spec: QueueSpec) -> Queue:
    """The queue Celery consumes for ``spec``, bound once per declared event type."""
    keys = routing_keys(spec)
    if not keys:
        raise ValueError(f"no handler is declared on {spec.name!r}: nothing to bind it to")
    # kombu drops ``exchange`` when ``bindings`` are given, and Celery then fills
    # in its default exchange: ``task_default_exchange`` is ``courier.events``
    # for that reason, so the extra main binding is one of the routing keys.
    return Queue(
        spec.name,
        routing_key=keys[0],
        bindings=[binding(events_exchange, routing_key=key) for key in keys],
        durable=True,
        queue_arguments=queue_arguments(spec),
    )


def consuming_queues() -> tuple[Queue, ...]:
    """The queues Celery consumes: each of ``QUEUES`` that a handler is declared on."""
    return tuple(consuming_queue(spec) for spec in QUEUES if routing_keys(spec))


def dead_letter_queue(spec: QueueSpec) -> Queue:
    """Where ``spec``'s refused messages wait for an operator, bound by its own name."""
    return Queue(
        spec.dead_letter_queue,
        exchange=dead_letter_exchange,
        routing_key=spec.dead_letter_queue,
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )


#: Every queue's dead-letter queue (whether or not a handler is declared on it now).
DEAD_LETTER_QUEUES: tuple[Queue, ...] = tuple(dead_letter_queue(spec) for spec in QUEUES)


def delay_queue(spec: QueueSpec, seconds: int) -> Queue:
    """The delay queue of ``spec`` for ``seconds``: expired messages go back to ``spec``'s queue."""
    return Queue(
        spec.delay_queue(seconds),
        exchange=default_exchange,
        routing_key=spec.delay_queue(seconds),
        durable=True,
        queue_arguments=delay_queue_arguments(spec, seconds),
    )


def delay_queue_arguments(spec: QueueSpec, seconds: int) -> dict[str, Any]:
    """The delay queue's ``x-`` arguments (part of its identity on the broker)."""
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": seconds * 1000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": spec.name,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def delay_queues(tiers: tuple[int, ...]) -> tuple[Queue, ...]:
    """Every delay queue of every consuming queue (one per retry tier)."""
    return tuple(delay_queue(spec, seconds) for spec in QUEUES for seconds in tiers)


def spec_for(routing_key_or_queue: str | None) -> QueueSpec | None:
    """The worker queue a message came from, by its routing key or the queue's own name."""
    for spec in QUEUES:
        if routing_key_or_queue == spec.name or routing_key_or_queue in routing_keys(spec):
            return spec
    return None
