"""The message schemas of the AsyncAPI document: envelopes, Celery headers and task bodies.

The envelope schemas are the committed JSON Schemas (``schema_export``),
with their ``$defs`` moved into ``components/schemas`` (in an AsyncAPI
document ``#`` is the document, not the schema). The headers and the body
are the Celery task protocol v2 message that ``codec.encode`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shared_contracts.codec import PROTOCOL_HEADERS, task_body
from shared_contracts.envelope import CORRELATION_ID_PATTERN
from shared_contracts.schema_export import generate
from shared_contracts.topology import CORRELATION_ID_HEADER

__all__ = [
    "BODY_EMBED",
    "HEADERS",
    "HEADER_SCHEMAS",
    "embed_schema",
    "envelope_schemas",
    "headers_schema",
    "schema_ref",
    "task_body_schema",
]

HEADERS = "CeleryTaskHeaders"
BODY_EMBED = "CeleryTaskEmbed"

_UUID = {"type": "string", "format": "uuid"}

#: Each header ``codec.encode`` writes, as Courier's publishers write it.
HEADER_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "lang": {
        "type": "string",
        "const": "py",
        "description": "The task's language: a Python (Celery) task.",
    },
    "task": {"type": "string", "description": "The task name: the event type."},
    "id": {**_UUID, "description": "The task id: the event id."},
    "shadow": {"type": "null", "description": "No alias: the task is logged by its name."},
    "eta": {"type": "null", "description": "Never set: a retry waits in a delay queue instead."},
    "expires": {"type": "null", "description": "Events do not expire."},
    "group": {"type": "null", "description": "Not part of a group."},
    "group_index": {"type": "null", "description": "Not part of a group."},
    "retries": {
        "type": "integer",
        "minimum": 0,
        "description": "0 when published; one more on each retry through a delay queue.",
    },
    "timelimit": {
        "type": "array",
        "items": [{"type": "null"}, {"type": "null"}],
        "minItems": 2,
        "maxItems": 2,
        "description": "[hard, soft] time limits: the worker's own apply.",
    },
    "root_id": {**_UUID, "description": "The event id: every event is its own workflow."},
    "parent_id": {"type": "null", "description": "No parent task."},
    "argsrepr": {
        "type": "string",
        "const": "()",
        "description": "The positional arguments, for logs: none.",
    },
    "kwargsrepr": {
        "type": "string",
        "description": "The keyword arguments, for logs: the event's type and id, never its data.",
    },
    "origin": {"type": "string", "description": "The publishing service (`courier-web`)."},
    "ignore_result": {
        "type": "boolean",
        "const": True,
        "description": "Events have no result to store.",
    },
}

_CORRELATION_HEADER_SCHEMA = {
    "type": "string",
    "pattern": CORRELATION_ID_PATTERN,
    "description": (
        "The envelope's correlation id (the HTTP request id that caused the event), readable "
        "before the body is parsed."
    ),
}


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def headers_schema() -> dict[str, Any]:
    """The Celery protocol v2 headers of every event message, and Courier's correlation header."""
    missing = set(PROTOCOL_HEADERS) - set(HEADER_SCHEMAS)
    if missing:
        raise LookupError(f"no schema for the Celery header(s) {sorted(missing)}: add them here")
    properties: dict[str, Any] = {name: dict(HEADER_SCHEMAS[name]) for name in PROTOCOL_HEADERS}
    properties[CORRELATION_ID_HEADER] = _CORRELATION_HEADER_SCHEMA
    return {
        "type": "object",
        "description": (
            "The headers of a Celery task protocol v2 message, in Celery's order, and "
            f"`{CORRELATION_ID_HEADER}`. A broker adds its own (`x-death`, "
            "`x-delivery-count`) on dead-lettering and redelivery."
        ),
        "properties": properties,
        "required": [*PROTOCOL_HEADERS, CORRELATION_ID_HEADER],
    }


def embed_schema() -> dict[str, Any]:
    """The third element of a task body: no callbacks, errbacks, chain or chord."""
    embed = json.loads(task_body((), {}))[2]
    return {
        "type": "object",
        "description": "Celery's workflow options: none.",
        "properties": {key: {"type": "null"} for key in embed},
        "required": list(embed),
    }


def task_body_schema(envelope_schema: str) -> dict[str, Any]:
    """The message body: ``[args, kwargs, embed]`` with the envelope as ``kwargs.event``."""
    return {
        "type": "array",
        "description": (
            "A Celery task protocol v2 body, `[args, kwargs, embed]`, as compact JSON: no "
            "arguments, the envelope as the keyword argument `event`, no workflow."
        ),
        "items": [
            {"type": "array", "maxItems": 0, "description": "args: none."},
            {
                "type": "object",
                "description": "kwargs: the envelope.",
                "properties": {"event": schema_ref(envelope_schema)},
                "required": ["event"],
                "additionalProperties": False,
            },
            schema_ref(BODY_EMBED),
        ],
        "minItems": 3,
        "maxItems": 3,
        "additionalItems": False,
    }


def envelope_schemas() -> dict[str, dict[str, Any]]:
    """``components/schemas``: each event's envelope (named by its type) and its definitions.

    A definition is named ``<event type>.<model>``, so two contracts may use
    models of the same name.
    """
    components: dict[str, dict[str, Any]] = {}
    for event_type, schema in generate(packaged_only=True).items():
        definitions = schema.pop("$defs", {})
        renamed = {f"#/$defs/{name}": f"{event_type}.{name}" for name in definitions}
        for name, definition in definitions.items():
            components[f"{event_type}.{name}"] = _rewrite_refs(definition, renamed)
        components[event_type] = _rewrite_refs(schema, renamed)
    return components


def _rewrite_refs(node: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                f"#/components/schemas/{renamed[value]}"
                if key == "$ref" and value in renamed
                else _rewrite_refs(value, renamed)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, renamed) for item in node]
    return node
