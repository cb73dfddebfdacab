"""The base class every event payload derives from, and the registry it fills.

A contract registers itself when its class is defined (as openedx-events'
signals and pydantic's own ``__init_subclass__`` hooks do): there is no list
to keep by hand and so none to forget. ``shared_contracts.events`` imports
every module of its package, so a new module there is all it takes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

#: ``<subdomain>.<fact in the past tense>.v<major>``: lower case, dot-separated.
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$"
_EVENT_TYPE_RE = re.compile(EVENT_TYPE_PATTERN)

_registry: dict[str, type[Event]] = {}
#: Every registered contract by its event type: a live, read-only view.
REGISTERED: Mapping[str, type[Event]] = MappingProxyType(_registry)


class ContractDefinitionError(TypeError):
    """An event class that cannot be registered: a bad or duplicate ``event_type``."""


class Event(BaseModel):
    """A past-tense fact: frozen, flat, small, and telling no consumer what to do.

    ``event_type`` carries the major version (``user.registered.v1``); a breaking
    change is a new class with a new type. ``schema_version`` is the revision
    within that major version and grows by one with each compatible change (a
    new optional field). Consumers read any revision: an older one with the
    defaults of the fields it lacks, a newer one without the fields they do not
    know (a tolerant reader, ``registry.parse_envelope``).
    A subclass that sets ``event_type`` registers itself; one that does not is
    an abstract base for other events.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            _register(cls)


def _register(model: type[Event]) -> None:
    event_type = model.event_type
    where = f"{model.__module__}.{model.__qualname__}"
    if not isinstance(event_type, str) or not _EVENT_TYPE_RE.match(event_type):
        raise ContractDefinitionError(
            f"{where}: event_type {event_type!r} must look like 'subdomain.fact_happened.v1' "
            f"(lower case, dot-separated, ending in its major version; {EVENT_TYPE_PATTERN})"
        )
    version = model.schema_version
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ContractDefinitionError(f"{where}: schema_version must be an int >= 1")
    existing = _registry.get(event_type)
    if existing is not None and _qualified(existing) != _qualified(model):
        raise ContractDefinitionError(
            f"{where}: event_type {event_type!r} is already claimed by {_qualified(existing)}; "
            "a new contract needs a type of its own (a breaking change is a new .vN)"
        )
    # The same class defined again (a module imported twice, e.g. by a test
    # runner) replaces its earlier self.
    _registry[event_type] = model


def _qualified(model: type[Event]) -> str:
    return f"{model.__module__}.{model.__qualname__}"
