"""The one mapping from event type to contract, and parsing through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from shared_contracts.envelope import Envelope
from shared_contracts.errors import SchemaViolation, UnknownEventType, UnsupportedSchemaVersion
from shared_contracts.events import Event
from shared_contracts.events.base import REGISTERED

#: Every contract by its event type, filled by the contracts themselves as
#: their classes are defined (``events/base.py``): a live, read-only view.
EVENT_TYPES: Mapping[str, type[Event]] = REGISTERED


def event_model(event_type: str) -> type[Event]:
    """The payload model registered for ``event_type``."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"no contract is registered for event type {event_type!r}") from None


def parse_envelope(data: Any) -> Envelope[Event]:
    """Validate a decoded JSON object as an envelope of its registered event type.

    Raises a ``ContractError`` subclass whose message names what is wrong.
    """
    if not isinstance(data, Mapping):
        raise SchemaViolation(f"envelope must be a JSON object, got {type(data).__name__}")
    event_type = data.get("event_type")
    if not isinstance(event_type, str):
        raise SchemaViolation("envelope field 'event_type' is missing or not a string")
    model = event_model(event_type)
    version = data.get("schema_version")
    if (
        isinstance(version, int)
        and not isinstance(version, bool)
        and version > model.schema_version
    ):
        raise UnsupportedSchemaVersion(
            f"{event_type} schema_version {version} is newer than the known "
            f"revision {model.schema_version}"
        )
    try:
        return Envelope[model].model_validate(data)  # type: ignore[valid-type]
    except ValidationError as exc:
        raise SchemaViolation(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems)
