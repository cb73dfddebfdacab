"""The one mapping from event type to contract, and parsing through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from shared_contracts.envelope import Envelope
from shared_contracts.errors import SchemaViolation, UnknownEventType
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

    An envelope of a newer revision (``schema_version``) than the registered
    model is read as that model: the payload's fields the model does not know
    are left out, and the envelope keeps the revision it was written in. An
    unknown field in a revision the model knows is still a schema violation.

    Raises a ``ContractError`` subclass whose message names what is wrong.
    """
    if not isinstance(data, Mapping):
        raise SchemaViolation(f"envelope must be a JSON object, got {type(data).__name__}")
    event_type = data.get("event_type")
    if not isinstance(event_type, str):
        raise SchemaViolation("envelope field 'event_type' is missing or not a string")
    model = event_model(event_type)
    version = data.get("schema_version")
    payload = data.get("payload")
    if (
        isinstance(version, int)
        and not isinstance(version, bool)
        and version > model.schema_version
        and isinstance(payload, Mapping)
    ):
        # A tolerant reader: a newer revision of the same type differs only by
        # optional fields (a breaking change is a new type), so what this
        # consumer knows is all there and what it does not know it may ignore.
        # Refusing it would dead-letter every event a web deployed before its
        # workers writes. The known fields are still validated strictly.
        data = {**data, "payload": _known_fields(payload, model)}
    try:
        return Envelope[model].model_validate(data)  # type: ignore[valid-type]
    except ValidationError as exc:
        raise SchemaViolation(_describe(exc)) from None


def _known_fields(payload: Mapping[str, Any], model: type[Event]) -> dict[str, Any]:
    """``payload`` without the fields a newer revision added and ``model`` does not know."""
    known = set(model.model_fields)
    known.update(field.alias for field in model.model_fields.values() if field.alias)
    return {name: value for name, value in payload.items() if name in known}


def _describe(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems)
