"""The document's operations: a service publishes, handles, retries or dead-letters a message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared_contracts.asyncapi.channels import BINDING_VERSION
from shared_contracts.asyncapi.parts import ConsumingQueue, DeadLetters, Handler, Publication
from shared_contracts.codec import PERSISTENT

__all__ = [
    "dead_letter_operation",
    "publish_operation",
    "receive_operation",
    "retry_operation",
]


def _messages(channel: str, event_types: Sequence[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{channel}/messages/{t}"} for t in event_types]


def publish_operation(service: str, channel: str, publication: Publication) -> dict[str, Any]:
    triggers = "; ".join(publication.triggers) or "on demand"
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{channel}"},
        "title": f"{service} publishes {publication.event_type}",
        "summary": f"When: {triggers}.",
        "tags": [{"name": service}],
        "messages": _messages(channel, [publication.event_type]),
        "bindings": {
            "amqp": {
                "deliveryMode": PERSISTENT,
                "mandatory": True,
                "bindingVersion": BINDING_VERSION,
            }
        },
        "x-courier-triggers": list(publication.triggers),
    }


def receive_operation(service: str, queue: ConsumingQueue, handler: Handler) -> dict[str, Any]:
    transient = ", ".join(f"`{t}`" for t in handler.transient)
    return {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{queue.name}"},
        "title": f"{service} handles {handler.event_type}",
        "summary": f"`{handler.handler}` on {queue.name}.",
        "description": (
            f"Retried besides the generic transient errors: {transient}." if transient else ""
        ),
        "tags": [{"name": service}],
        "messages": _messages(queue.name, [handler.event_type]),
        "bindings": {"amqp": {"ack": True, "bindingVersion": BINDING_VERSION}},
        "x-courier-handler": handler.handler,
        "x-courier-transient": list(handler.transient),
    }


def retry_operation(
    service: str, channel: str, queue: ConsumingQueue, event_types: Sequence[str]
) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{channel}"},
        "title": f"{service} retries a message of {queue.name}",
        "summary": "A transient failure: a copy waits in a delay queue, then comes back.",
        "tags": [{"name": service}],
        "messages": _messages(channel, event_types),
        "bindings": {
            "amqp": {
                "deliveryMode": PERSISTENT,
                "mandatory": True,
                "bindingVersion": BINDING_VERSION,
            }
        },
    }


def dead_letter_operation(
    service: str, channel: str, queue: ConsumingQueue, letters: DeadLetters
) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{channel}"},
        "title": f"{service} dead-letters a message of {queue.name}",
        "summary": f"Published to `{letters.exchange}` with the reason, then acknowledged.",
        "tags": [{"name": service}],
        "messages": [{"$ref": f"#/channels/{channel}/messages/dead-letter"}],
        "bindings": {"amqp": {"deliveryMode": PERSISTENT, "bindingVersion": BINDING_VERSION}},
    }
