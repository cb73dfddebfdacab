"""The base class every event payload derives from."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """A past-tense fact: frozen, flat, small, and telling no consumer what to do.

    ``event_type`` carries the major version (``user.registered.v1``); a breaking
    change is a new class with a new type. ``schema_version`` is the revision
    within that major version and grows by one with each compatible change (a
    new optional field). Consumers accept any revision up to the one they know.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
