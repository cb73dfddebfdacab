"""The document's header and messages: info, servers, one message per event, dead letters."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from shared_contracts.asyncapi.channels import BINDING_VERSION
from shared_contracts.asyncapi.parts import DeadLetters, ServicePart
from shared_contracts.asyncapi.schemas import HEADERS, schema_ref, task_body_schema
from shared_contracts.codec import CONTENT_ENCODING
from shared_contracts.events import Event
from shared_contracts.topology import CORRELATION_ID_HEADER, EVENTS_EXCHANGE

__all__ = ["dead_letter_message", "event_message", "info", "servers"]

_DESCRIPTION = f"""\
Every event of the Courier system: the facts its services publish to the \
durable topic exchange `{EVENTS_EXCHANGE}` (routing key = event type, major \
version included), the queues that consume them, and the delay and \
dead-letter queues of their retries.

Each message is a Celery task protocol v2 message, so that a stock Celery \
worker consumes it: task name = event type, task id = event id, the \
envelope as the keyword argument `event`, JSON, persistent. The envelope \
(`event_id`, `event_type`, `schema_version`, `occurred_at`, `producer`, \
`correlation_id`, `payload`) is the same for every event; its payload is the \
event's contract.

Generated from `shared_contracts` and each service's declarations \
(`make asyncapi`); do not edit it by hand."""


def info(version: str, parts: Sequence[ServicePart]) -> dict[str, Any]:
    return {
        "title": "Courier events",
        "version": version,
        "description": _DESCRIPTION,
        "tags": [
            {"name": part.service, "description": part.description}
            for part in sorted(parts, key=lambda p: p.service)
        ],
    }


def servers() -> dict[str, Any]:
    return {
        "rabbitmq": {
            "host": "localhost:5672",
            "protocol": "amqp",
            "protocolVersion": "0.9.1",
            "description": (
                "The RabbitMQ broker every service reaches at `RABBITMQ_URL` "
                "(default `amqp://guest:guest@localhost:5672/%2F`)."
            ),
        }
    }


def event_message(model: type[Event], event_type: str) -> dict[str, Any]:
    summary, _, details = inspect.cleandoc(model.__doc__ or event_type).partition("\n")
    return {
        "name": event_type,
        "title": model.__name__,
        "summary": summary.strip(),
        "description": (
            f"{details.strip()}\n\nRevision {model.schema_version} of `{event_type}`; its "
            f"envelope's JSON Schema is `shared_contracts/schemas/{event_type}.json`."
        ).strip(),
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "allOf": [
                schema_ref(HEADERS),
                {"properties": {"task": {"const": event_type}}},
            ],
        },
        "payload": task_body_schema(event_type),
        "correlationId": {
            "description": "The HTTP request id that caused the event (the envelope's too).",
            "location": f"$message.header#/{CORRELATION_ID_HEADER}",
        },
        "bindings": {
            "amqp": {
                "contentEncoding": CONTENT_ENCODING,
                "messageType": event_type,
                "bindingVersion": BINDING_VERSION,
            }
        },
        "x-courier-schema-version": model.schema_version,
    }


def dead_letter_message(service: str, letters: DeadLetters) -> dict[str, Any]:
    properties: dict[str, Any] = {
        letters.reason_header: {
            "type": "string",
            "enum": sorted(letters.reasons),
            "description": (
                "Why the service refused it; absent when the broker dead-lettered it "
                "(its `x-death` header says why)."
            ),
            "x-courier-reasons": dict(sorted(letters.reasons.items())),
        },
        **{name: {"type": "string", "description": d} for name, d in letters.headers.items()},
    }
    return {
        "name": "dead-letter",
        "title": f"A message {service} refused",
        "summary": "A message that could not be handled, kept with why.",
        "description": letters.description,
        "headers": {"type": "object", "properties": properties},
        "payload": {
            "description": (
                "The refused message's body as it arrived: an event's task body, or whatever "
                "could not be decoded (then the content type is application/octet-stream)."
            )
        },
    }
