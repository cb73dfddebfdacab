"""Handlers are declared where they are written: ``@handles(Event, queue=..., transient=...)``.

A declaration names the event a plain handler function acts on, the queue it
is consumed from and the exceptions that are worth a retry besides the
generic ones (``retry.is_transient``). Everything else is derived from the
declarations: ``HANDLERS`` (event type -> handler), the Celery task of each
event type (``tasks.register_tasks``), the queues' bindings
(``queues.routing_keys``, ``topology``) and the retry classification.
There is one handler per event type in this service.

Declare handlers before the worker starts: the Celery app registers a task
and binds the queues for every declaration it finds when a worker starts
(``celery_app.apply_declarations``). A test may declare a handler in its own
module and withdraw it afterwards with ``HandlerDeclaration.undeclare()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from shared_contracts import EVENT_TYPES, Envelope, Event

from courier_worker.handlers.base import Dependencies, Handler
from courier_worker.queues import QueueSpec, bind, unbind

EventT = TypeVar("EventT", bound=Event)


class HandlerDeclarationError(TypeError):
    """A handler that cannot be declared: no registered contract, a second handler, a bad queue."""


@dataclass(frozen=True)
class HandlerDeclaration:
    """Which event a handler acts on, on which queue, and what makes a failure transient."""

    event: type[Event]
    handler: Handler
    queue: QueueSpec
    #: Exceptions retried like ``retry.is_transient``'s own (a dependency that may come back).
    transient: tuple[type[BaseException], ...] = ()

    @property
    def event_type(self) -> str:
        return self.event.event_type

    @property
    def name(self) -> str:
        """The handler's dotted name, e.g. ``courier_worker.handlers.users.send_welcome_email``."""
        return _dotted(self.handler)

    def undeclare(self) -> None:
        """Withdraw this declaration (tests); a worker started afterwards no longer handles it."""
        if _declarations.get(self.event_type) is self:
            del _declarations[self.event_type]
            unbind(self.event_type)


_declarations: dict[str, HandlerDeclaration] = {}


def declare(
    event: type[Event],
    handler: Handler,
    *,
    queue: QueueSpec,
    transient: tuple[type[BaseException], ...] = (),
) -> HandlerDeclaration:
    """Declare ``handler`` for ``event`` (what ``@handles`` does); returns the declaration."""
    event_type = getattr(event, "event_type", None)
    if not isinstance(event_type, str) or EVENT_TYPES.get(event_type) is not event:
        raise HandlerDeclarationError(
            f"{_dotted(handler)}: {event!r} is not a registered contract "
            "(a shared_contracts Event subclass with its own event_type)"
        )
    if not all(isinstance(kind, type) and issubclass(kind, BaseException) for kind in transient):
        raise HandlerDeclarationError(
            f"{_dotted(handler)}: transient must be a tuple of exception classes, got {transient!r}"
        )
    declaration = HandlerDeclaration(event, handler, queue, tuple(transient))
    existing = _declarations.get(event_type)
    # The same function declared again (its module imported twice, e.g. by a
    # test runner) replaces its earlier self; another function is a mistake.
    if existing is not None and existing.name != declaration.name:
        raise HandlerDeclarationError(
            f"{declaration.name}: {event_type!r} is already handled by {existing.name}; "
            "this service has one handler per event type"
        )
    try:
        bind(event_type, queue)
    except ValueError as exc:
        raise HandlerDeclarationError(f"{declaration.name}: {exc}") from None
    _declarations[event_type] = declaration
    return declaration


def handles(
    event: type[EventT],
    *,
    queue: QueueSpec,
    transient: tuple[type[BaseException], ...] = (),
) -> Callable[
    [Callable[[Envelope[EventT], Dependencies], None]],
    Callable[[Envelope[EventT], Dependencies], None],
]:
    """Declare the decorated function as this service's handler of ``event``, on ``queue``.

    The function is returned unchanged (a plain function, called directly in
    unit tests). ``transient`` lists the exceptions, besides the generic
    infrastructure errors of ``retry.is_transient``, after which the event is
    retried rather than dead-lettered.
    """

    def declared(
        handler: Callable[[Envelope[EventT], Dependencies], None],
    ) -> Callable[[Envelope[EventT], Dependencies], None]:
        declare(event, handler, queue=queue, transient=transient)
        return handler

    return declared


def declarations() -> tuple[HandlerDeclaration, ...]:
    """Every declaration, by event type."""
    return tuple(declaration for _, declaration in sorted(_declarations.items()))


def declaration_for(event_type: str) -> HandlerDeclaration | None:
    """The declaration of ``event_type``'s handler, if this service handles it."""
    return _declarations.get(event_type)


class _Handlers(Mapping[str, Handler]):
    """Event type -> handler, read live from the declarations."""

    def __getitem__(self, event_type: str) -> Handler:
        return _declarations[event_type].handler

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(_declarations))

    def __len__(self) -> int:
        return len(_declarations)

    def __repr__(self) -> str:
        return f"HANDLERS({ {key: _dotted(value) for key, value in self.items()} })"


#: Event type -> handler, derived from the declarations (a live, read-only view).
HANDLERS: Mapping[str, Handler] = _Handlers()


def _dotted(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', function)}"


__all__ = [
    "HANDLERS",
    "HandlerDeclaration",
    "HandlerDeclarationError",
    "declaration_for",
    "declarations",
    "declare",
    "handles",
]
