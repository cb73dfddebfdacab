"""Emission declarations: which model change is written to the outbox as which event.

An app declares its emissions in its ``events.py``, which the outbox app's
``ready()`` imports (``autodiscover_modules("events")``, as the admin does):

    emits(UserRegistered, on=post_save, sender=User,
          when=lambda user, created, **_: created,
          build=lambda user, **_: UserRegistered(user_id=user.pk, email=user.email, ...))

Each declaration connects one receiver (``weak=False``, a stable
``dispatch_uid``) that skips raw saves (``loaddata``), asks ``when``, builds
the event from the instance it was sent (no query of its own) and writes it
with ``outbox_enqueue`` in the transaction the signal fires in, with the
current request id as its correlation id. ``when`` and ``build`` receive the
signal's ``instance``, then its other keyword arguments (``created``, ``raw``,
``using``, ``update_fields`` for ``post_save``); ``**_`` takes what they
ignore. The declarations are kept in order: ``emissions()`` lists them, for
the catalog of what the service emits.

This module is not called ``emissions.py`` on purpose: importing a submodule
sets it as an attribute of its package, which would hide the package's
``emissions()`` function behind the module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import signals as model_signals
from django.dispatch import Signal
from shared_contracts import Event

from courier_web.correlation import correlation_id
from courier_web.outbox.writing import outbox_enqueue

__all__ = ["Emission", "emissions", "emits"]

EventT = TypeVar("EventT", bound=Event)


@dataclass(frozen=True)
class Emission:
    """One declaration: ``event`` is written to the outbox when ``signal`` fires for ``sender``."""

    event: type[Event]
    event_type: str
    signal: Signal = field(repr=False)
    #: ``post_save``, ``post_delete``... (or the ``signal_name`` given to ``emits``).
    signal_name: str
    sender: type[Any] = field(repr=False)
    #: ``app_label.Model`` for a model, else the sender's dotted path.
    sender_label: str
    build: Callable[..., Event] = field(repr=False)
    when: Callable[..., bool] | None = field(repr=False)
    #: The module holding the ``emits(...)`` call: where the receiver is declared.
    declared_in: str
    #: The key of the connected receiver (``Signal.connect(dispatch_uid=...)``).
    dispatch_uid: str
    #: The row is written by the receiver, so in the transaction the signal fires in.
    in_transaction: bool = True

    def __str__(self) -> str:
        return (
            f"emits({self.event.__name__}, on={self.signal_name}, sender={self.sender_label}) "
            f"in {self.declared_in}"
        )

    def receive(self, sender: Any, **kwargs: Any) -> None:
        """The receiver: build the event and write it to the outbox, in the saving transaction."""
        if kwargs.get("raw"):  # fixtures (loaddata) are not facts that happened
            return
        kwargs.pop("signal", None)
        instance = kwargs.pop("instance", None)
        if self.when is not None and not self.when(instance, **kwargs):
            return
        event = self.build(instance, **kwargs)
        if type(event) is not self.event:
            raise TypeError(
                f"{self}: build returned {type(event).__qualname__}, "
                f"not the declared {self.event.__qualname__}"
            )
        outbox_enqueue(event, correlation_id=correlation_id())

    def disconnect(self) -> None:
        """Undo the declaration: disconnect its receiver and forget it (for tests)."""
        self.signal.disconnect(sender=self.sender, dispatch_uid=self.dispatch_uid)
        key = _key(self.signal, self.sender, self.event_type)
        if _declared.get(key) is self:
            del _declared[key]


_declared: dict[tuple[Signal, type[Any], str], Emission] = {}


def emits(
    event: type[EventT],
    *,
    on: Signal,
    sender: type[Any],
    build: Callable[..., EventT],
    when: Callable[..., bool] | None = None,
    signal_name: str | None = None,
) -> Emission:
    """Declare that ``on`` (sent by ``sender``) writes ``event``, made by ``build``, to the outbox.

    ``when`` (optional) decides from the same arguments whether this change is
    the fact the event states. ``signal_name`` is needed only for a signal that
    is not one of Django's model signals. Raises ``ImproperlyConfigured`` for a
    class that is not a registered contract or for a second declaration of the
    same event on the same signal and sender.
    """
    declared_in = sys._getframe(1).f_globals.get("__name__", "?")
    if not (isinstance(event, type) and issubclass(event, Event) and "event_type" in vars(event)):
        raise ImproperlyConfigured(
            f"emits({event!r}) in {declared_in}: not an event contract "
            "(a shared_contracts.Event subclass with an event_type)"
        )
    name = signal_name or _signal_name(on, declared_in)
    label = _sender_label(sender)
    emission = Emission(
        event=event,
        event_type=event.event_type,
        signal=on,
        signal_name=name,
        sender=sender,
        sender_label=label,
        build=build,
        when=when,
        declared_in=declared_in,
        dispatch_uid=f"courier.emits:{label}:{name}:{event.event_type}",
    )
    key = _key(on, sender, event.event_type)
    if (existing := _declared.get(key)) is not None:
        raise ImproperlyConfigured(
            f"{emission}: {event.event_type} is already declared on {name} of {label} "
            f"in {existing.declared_in}; one declaration per event, signal and sender"
        )
    on.connect(emission.receive, sender=sender, weak=False, dispatch_uid=emission.dispatch_uid)
    _declared[key] = emission
    return emission


def emissions() -> tuple[Emission, ...]:
    """Every declared emission, in the order it was declared."""
    return tuple(_declared.values())


def _key(signal: Signal, sender: type[Any], event_type: str) -> tuple[Signal, type[Any], str]:
    return (signal, sender, event_type)


def _signal_name(signal: Signal, declared_in: str) -> str:
    for name, value in vars(model_signals).items():
        if value is signal:
            return name
    raise ImproperlyConfigured(
        f"emits(..., on={signal!r}) in {declared_in}: not one of Django's model signals; "
        "name it with signal_name='...'"
    )


def _sender_label(sender: type[Any]) -> str:
    meta = getattr(sender, "_meta", None)
    if meta is not None:
        return str(meta.label)
    return f"{sender.__module__}.{sender.__qualname__}"
