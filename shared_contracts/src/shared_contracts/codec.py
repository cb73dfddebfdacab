"""Envelope <-> Celery task protocol v2 message.

The web service publishes with pika, yet a stock Celery worker must consume
the message with all of its machinery, so the wire format is Celery's own:
task name = event type, task id = event id, kwargs = ``{"event": envelope}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared_contracts.envelope import Envelope
from shared_contracts.errors import MessageTooLarge, SchemaViolation, UndecodableMessage
from shared_contracts.events import Event
from shared_contracts.registry import parse_envelope
from shared_contracts.topology import CORRELATION_ID_HEADER, EVENTS_EXCHANGE, routing_key

CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
PERSISTENT = 2
#: Events are small facts; anything near this size is a design mistake.
MAX_BODY_BYTES = 64 * 1024

_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@dataclass(frozen=True)
class WireMessage:
    """Everything pika needs to publish one event: where, headers, properties, body."""

    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any]
    content_type: str = CONTENT_TYPE
    content_encoding: str = CONTENT_ENCODING
    delivery_mode: int = PERSISTENT
    correlation_id: str = ""
    message_id: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)


def encode(envelope: Envelope[Any], *, origin: str = "courier") -> WireMessage:
    """Encode ``envelope`` as a persistent Celery protocol v2 task message."""
    task_id = str(envelope.event_id)
    event = envelope.model_dump(mode="json")
    body = json.dumps([[], {"event": event}, _EMBED], separators=(",", ":")).encode()
    if len(body) > MAX_BODY_BYTES:
        raise MessageTooLarge(f"encoded event is {len(body)} bytes, over {MAX_BODY_BYTES}")
    headers = {
        "lang": "py",
        "task": envelope.event_type,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": "()",
        "kwargsrepr": f"{{'event': <{envelope.event_type} {task_id}>}}",
        "origin": origin,
        "ignore_result": True,
        CORRELATION_ID_HEADER: envelope.correlation_id,
    }
    return WireMessage(
        exchange=EVENTS_EXCHANGE,
        routing_key=routing_key(envelope.event_type),
        body=body,
        headers=headers,
        correlation_id=task_id,
        message_id=task_id,
    )


def decode(body: bytes | str, headers: Mapping[str, Any] | None = None) -> Envelope[Event]:
    """Decode a protocol v2 message body (and check its headers) back into an envelope."""
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UndecodableMessage(f"body is not JSON: {exc}") from None
    if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[1], dict)):
        raise UndecodableMessage("body is not a Celery protocol v2 [args, kwargs, embed] triple")
    if "event" not in decoded[1]:
        raise SchemaViolation("task kwargs carry no 'event'")
    envelope = parse_envelope(decoded[1]["event"])
    if headers is not None:
        check_headers(envelope, headers)
    return envelope


def check_headers(envelope: Envelope[Any], headers: Mapping[str, Any]) -> None:
    """Refuse a message whose Celery headers disagree with the envelope inside it."""
    if headers.get("task") != envelope.event_type:
        raise SchemaViolation(
            f"header task={headers.get('task')!r} does not match event_type {envelope.event_type!r}"
        )
    if headers.get("id") != str(envelope.event_id):
        raise SchemaViolation("header id does not match the envelope's event_id")
