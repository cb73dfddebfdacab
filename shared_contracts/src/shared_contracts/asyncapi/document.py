"""Compose the system's AsyncAPI 3.0 document from the contracts and the services' parts.

Channels: one per event type on the events exchange (its routing key), and
per consuming queue of each service: the queue, its delay queues (one
channel, the tier as a parameter) and its dead-letter queue. Operations: a
service publishing an event type (``send``), handling one from its queue
(``receive``), retrying into a delay queue and dead-lettering (``send``).
Messages: one per event type (Celery headers, task body, envelope schema)
and one per service's dead letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared_contracts.asyncapi.channels import (
    dead_letter_channel,
    delay_channel,
    event_channel,
    queue_channel,
)
from shared_contracts.asyncapi.messages import dead_letter_message, event_message, info, servers
from shared_contracts.asyncapi.operations import (
    dead_letter_operation,
    publish_operation,
    receive_operation,
    retry_operation,
)
from shared_contracts.asyncapi.parts import ConsumingQueue, ServicePart
from shared_contracts.asyncapi.schemas import (
    BODY_EMBED,
    HEADERS,
    embed_schema,
    envelope_schemas,
    headers_schema,
)
from shared_contracts.registry import EVENT_TYPES
from shared_contracts.topology import EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE

__all__ = ["ASYNCAPI_VERSION", "DocumentError", "build"]

ASYNCAPI_VERSION = "3.0.0"


class DocumentError(ValueError):
    """The parts contradict the contracts or each other; the message says where."""


def build(parts: Sequence[ServicePart], *, version: str) -> dict[str, Any]:
    """The AsyncAPI document of every contract and of what ``parts`` declare about them."""
    schemas = envelope_schemas()
    event_types = sorted(t for t in schemas if t in EVENT_TYPES)
    _check(parts, set(event_types))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in event_types:
        messages[event_type] = event_message(EVENT_TYPES[event_type], event_type)
        channels[_event_channel(event_type)] = event_channel(event_type)
    for part in sorted(parts, key=lambda p: p.service):
        for publication in part.publishes:
            channel = _event_channel(publication.event_type)
            operations[f"{part.service}.publish.{publication.event_type}"] = publish_operation(
                part.service, channel, publication
            )
        for queue in part.consumes:
            _add_queue(part, queue, channels, operations, messages)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": info(version, parts),
        "defaultContentType": "application/json",
        "servers": servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {HEADERS: headers_schema(), BODY_EMBED: embed_schema(), **schemas},
            "messages": messages,
        },
    }


def _event_channel(event_type: str) -> str:
    return f"{EVENTS_EXCHANGE}.{event_type}"


def _add_queue(
    part: ServicePart,
    queue: ConsumingQueue,
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
) -> None:
    service = part.service
    bound = sorted(queue.bindings)
    channels[queue.name] = queue_channel(
        queue,
        bound,
        bindings=[
            {"exchange": EVENTS_EXCHANGE, "type": EVENTS_EXCHANGE_TYPE, "routing_key": key}
            for key in bound
        ],
    )
    for handler in sorted(queue.handlers, key=lambda h: h.event_type):
        operations[f"{service}.receive.{handler.event_type}"] = receive_operation(
            service, queue, handler
        )
    if queue.retries is not None:
        channel = f"{queue.name}.delay"
        channels[channel] = delay_channel(queue, queue.retries, bound)
        operations[f"{service}.retry.{queue.name}"] = retry_operation(
            service, channel, queue, bound
        )
    if queue.dead_letters is not None:
        letters = queue.dead_letters
        message = f"{service}.dead-letter"
        messages[message] = dead_letter_message(service, letters)
        channels[letters.queue.name] = dead_letter_channel(queue, letters, message)
        operations[f"{service}.dead-letter.{queue.name}"] = dead_letter_operation(
            service, letters.queue.name, queue, letters
        )


def _check(parts: Sequence[ServicePart], event_types: set[str]) -> None:
    services = [part.service for part in parts]
    if len(set(services)) != len(services):
        raise DocumentError(f"two parts name the same service: {sorted(services)}")
    queues: dict[str, str] = {}
    for part in parts:
        declared = [p.event_type for p in part.publishes] + [
            name
            for q in part.consumes
            for name in (*q.bindings, *(h.event_type for h in q.handlers))
        ]
        for event_type in declared:
            if event_type not in event_types:
                raise DocumentError(
                    f"{part.service} declares {event_type!r}, which is not a contract of "
                    "shared_contracts.events"
                )
        for queue in part.consumes:
            _check_queue(part.service, queue, queues)


def _check_queue(service: str, queue: ConsumingQueue, queues: dict[str, str]) -> None:
    names = [queue.name, f"{queue.name}.delay"]
    if queue.dead_letters is not None:
        names.append(queue.dead_letters.queue.name)
    for name in names:
        if name in queues:
            raise DocumentError(f"{service} and {queues[name]} both declare a queue {name!r}")
        queues[name] = service
    unhandled = set(queue.bindings) - {h.event_type for h in queue.handlers}
    if unhandled:
        raise DocumentError(f"{service}: {queue.name} is bound to {sorted(unhandled)} unhandled")
    if queue.retries is not None:
        for delay in queue.retries.queues:
            expected = queue.retries.address.replace("{seconds}", str(delay.seconds))
            if delay.name != expected:
                raise DocumentError(
                    f"{service}: delay queue {delay.name!r} does not follow "
                    f"{queue.retries.address!r} ({expected!r})"
                )
