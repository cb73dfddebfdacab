"""Envelope <-> Celery task protocol v2 message: the whole wire format, in one place.

The web service publishes with pika, yet a stock Celery worker must consume
the message with all of its machinery, so the wire format is Celery's own:
task name = event type, task id = event id, kwargs = ``{"event": envelope}``.

Two correlation ids travel, and they are not the same thing:

* the AMQP ``correlation_id`` property (and ``message_id``) is the **event
  id**, as Celery sets it for a task (its task id);
* the envelope's ``correlation_id`` is the **HTTP request id** that caused
  the event; it is also carried in the ``x-courier-correlation-id`` header so
  that a consumer can log it before it parses the body.

Every publisher (the web's relay, the worker's retries and dead letters, the
test suites, the bench) builds its AMQP properties from
``WireMessage.amqp_properties()``, which pika's ``BasicProperties`` and
kombu's ``Producer.publish`` both take as keyword arguments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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

#: The headers of a Celery protocol v2 task message, in Celery's order.
PROTOCOL_HEADERS: tuple[str, ...] = (
    "lang",
    "task",
    "id",
    "shadow",
    "eta",
    "expires",
    "group",
    "group_index",
    "retries",
    "timelimit",
    "root_id",
    "parent_id",
    "argsrepr",
    "kwargsrepr",
    "origin",
    "ignore_result",
)

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
    #: The event id (Celery's task id), not the envelope's request id.
    correlation_id: str = ""
    message_id: str = ""
    #: Any further AMQP properties (e.g. ``priority``), passed through as they are.
    properties: Mapping[str, Any] = field(default_factory=dict)

    def amqp_properties(self) -> dict[str, Any]:
        """The AMQP properties, headers included: ``pika.BasicProperties(**...)``, kombu alike."""
        return {"headers": dict(self.headers), **self.stored_properties()}

    def stored_properties(self) -> dict[str, Any]:
        """The AMQP properties without the headers (what an outbox row keeps beside them)."""
        return {
            "content_type": self.content_type,
            "content_encoding": self.content_encoding,
            "delivery_mode": self.delivery_mode,
            "correlation_id": self.correlation_id,
            "message_id": self.message_id,
            **dict(self.properties),
        }

    @classmethod
    def from_amqp(
        cls,
        *,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: Mapping[str, Any],
        properties: Mapping[str, Any],
    ) -> WireMessage:
        """The message whose parts are these: the inverse of ``stored_properties()``."""
        extra = dict(properties)
        known = {name: extra.pop(name) for name in _NAMED_PROPERTIES if name in extra}
        return cls(
            exchange=exchange,
            routing_key=routing_key,
            body=body,
            headers=headers,
            properties=extra,
            **known,
        )


_NAMED_PROPERTIES = (
    "content_type",
    "content_encoding",
    "delivery_mode",
    "correlation_id",
    "message_id",
)


def task_body(
    args: Sequence[Any], kwargs: Mapping[str, Any], embed: Mapping[str, Any] | None = None
) -> bytes:
    """A protocol v2 body, ``[args, kwargs, embed]``, as compact JSON."""
    return json.dumps(
        [list(args), dict(kwargs), dict(_EMBED if embed is None else embed)],
        separators=(",", ":"),
    ).encode()


def encode(envelope: Envelope[Any], *, origin: str = "courier") -> WireMessage:
    """Encode ``envelope`` as a persistent Celery protocol v2 task message."""
    task_id = str(envelope.event_id)
    event = envelope.model_dump(mode="json")
    body = task_body((), {"event": event})
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
