"""The channels: an event type on the exchange, a queue, its delay and dead-letter queues.

AMQP bindings follow the AMQP bindings 0.3.0; what they cannot say (a
queue's ``x-`` arguments and bindings) travels in ``x-courier-*`` extensions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared_contracts.asyncapi.parts import ConsumingQueue, DeadLetters, Retries
from shared_contracts.topology import EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE

__all__ = [
    "BINDING_VERSION",
    "dead_letter_channel",
    "delay_channel",
    "event_channel",
    "queue_channel",
]

BINDING_VERSION = "0.3.0"
VHOST = "/"


def _channel_messages(event_types: Sequence[str]) -> dict[str, Any]:
    return {t: {"$ref": f"#/components/messages/{t}"} for t in event_types}


def _queue_binding(name: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "queue",
            "queue": {
                "name": name,
                "durable": True,
                "exclusive": False,
                "autoDelete": False,
                "vhost": VHOST,
            },
            "bindingVersion": BINDING_VERSION,
        }
    }


def event_channel(event_type: str) -> dict[str, Any]:
    return {
        "address": event_type,
        "title": f"{event_type} on {EVENTS_EXCHANGE}",
        "description": (
            f"Published to the {EVENTS_EXCHANGE_TYPE} exchange `{EVENTS_EXCHANGE}` with the "
            "event type as routing key; every queue bound by that key gets a copy."
        ),
        "messages": _channel_messages([event_type]),
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": EVENTS_EXCHANGE,
                    "type": EVENTS_EXCHANGE_TYPE,
                    "durable": True,
                    "autoDelete": False,
                    "vhost": VHOST,
                },
                "bindingVersion": BINDING_VERSION,
            }
        },
    }


def queue_channel(
    queue: ConsumingQueue, event_types: Sequence[str], *, bindings: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "address": queue.name,
        "title": queue.name,
        "description": queue.description,
        "messages": _channel_messages(event_types),
        "bindings": _queue_binding(queue.name),
        "x-courier-queue-arguments": queue.arguments,
        "x-courier-bindings": bindings,
    }


def delay_channel(
    queue: ConsumingQueue, retries: Retries, event_types: Sequence[str]
) -> dict[str, Any]:
    tiers = [str(delay.seconds) for delay in retries.queues]
    return {
        "address": retries.address,
        "title": f"{queue.name} retries",
        "description": retries.description,
        "parameters": {
            "seconds": {
                "description": "The retry tier: how long a message waits, in seconds.",
                "examples": tiers,
            }
        },
        "messages": _channel_messages(event_types),
        "bindings": _queue_binding(retries.address),
        "x-courier-queues": [
            {"name": d.name, "seconds": d.seconds, "arguments": d.arguments} for d in retries.queues
        ],
        "x-courier-retry-header": retries.header,
        "x-courier-max-retries": retries.max_retries,
    }


def dead_letter_channel(
    queue: ConsumingQueue, letters: DeadLetters, message: str
) -> dict[str, Any]:
    return {
        "address": letters.queue.name,
        "title": f"{queue.name} dead letters",
        "description": letters.queue.description or letters.description,
        "messages": {"dead-letter": {"$ref": f"#/components/messages/{message}"}},
        "bindings": _queue_binding(letters.queue.name),
        "x-courier-queue-arguments": letters.queue.arguments,
        "x-courier-bindings": [
            {"exchange": letters.exchange, "type": "direct", "routing_key": letters.queue.name}
        ],
    }
