"""``@consumes(Event)``: the one way to declare a handler of an event the web consumes.

A handler is a plain function of the validated envelope. It runs inside the
database transaction that records the event as consumed (``processing``), so
it either happens once with that record or not at all; it must be a pure
database change (no HTTP call, no email). One handler per event type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared_contracts import EVENT_TYPES, Envelope, Event

EventT = TypeVar("EventT", bound=Event)
Handler = Callable[[Envelope[Any]], None]


class ConsumptionError(TypeError):
    """A handler that cannot be declared: no registered contract, or a second handler."""


@dataclass(frozen=True)
class Consumption:
    """Which event a web handler acts on."""

    event: type[Event]
    handler: Handler

    @property
    def event_type(self) -> str:
        return self.event.event_type

    @property
    def name(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__qualname__}"

    def withdraw(self) -> None:
        """Forget this declaration (tests)."""
        if _consumptions.get(self.event_type) is self:
            del _consumptions[self.event_type]


_consumptions: dict[str, Consumption] = {}


def consumes(
    event: type[EventT],
) -> Callable[[Callable[[Envelope[EventT]], None]], Callable[[Envelope[EventT]], None]]:
    """Declare the decorated function as the web's handler of ``event``; returned unchanged."""

    def declared(handler: Callable[[Envelope[EventT]], None]) -> Callable[[Envelope[EventT]], None]:
        declare(event, handler)
        return handler

    return declared


def declare(event: type[Event], handler: Handler) -> Consumption:
    """What ``@consumes`` does; returns the declaration."""
    event_type = getattr(event, "event_type", None)
    if not isinstance(event_type, str) or EVENT_TYPES.get(event_type) is not event:
        raise ConsumptionError(f"{event!r} is not a registered shared_contracts event")
    consumption = Consumption(event, handler)
    existing = _consumptions.get(event_type)
    # The same function declared again (a module imported twice) replaces itself.
    if existing is not None and existing.name != consumption.name:
        raise ConsumptionError(
            f"{consumption.name}: {event_type!r} is already consumed by {existing.name}"
        )
    _consumptions[event_type] = consumption
    return consumption


def consumptions() -> tuple[Consumption, ...]:
    """Every declaration, by event type."""
    return tuple(consumption for _, consumption in sorted(_consumptions.items()))


def consumption_for(event_type: str) -> Consumption | None:
    return _consumptions.get(event_type)


@dataclass(frozen=True)
class Periodic:
    """Housekeeping the consumer runs between messages, every ``seconds`` (e.g. deadlines)."""

    task: Callable[[], None]
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.task.__module__}.{self.task.__qualname__}"


_periodics: dict[str, Periodic] = {}


def every(*, seconds: float) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Declare the decorated function as housekeeping of the consumer; returned unchanged.

    It runs in the consumer process about every ``seconds`` (each consumer
    runs it: it must be safe to run concurrently, e.g. row locks).
    """

    def declared(task: Callable[[], None]) -> Callable[[], None]:
        periodic = Periodic(task, seconds)
        _periodics[periodic.name] = periodic
        return task

    return declared


def periodics() -> tuple[Periodic, ...]:
    return tuple(periodic for _, periodic in sorted(_periodics.items()))
