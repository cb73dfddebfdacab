"""Refusing the ORM's silent writes on models whose saves are events.

``QuerySet.bulk_create``, ``bulk_update`` and ``update`` send no ``pre_save``
or ``post_save`` signal: on a model with an emission on either, the events
would be lost without a trace. A model whose saves emit gets its managers
from ``EventedQuerySet`` (``objects = EventedManager()``, or
``BaseUserManager.from_queryset(EventedQuerySet)``), which refuses those three
calls with a message naming the evented way (``bulk.py``); the system check
``courier.E001`` (``checks.py``) fails at start-up for an emitting model whose
managers do not. A write that deliberately emits nothing (a backfill of a
column no event carries) says so: ``Model.objects.without_events(reason=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, TypeVar

from django.db import models
from django.db.models.signals import post_save, pre_save

if TYPE_CHECKING:
    from courier_web.outbox.declarations import Emission

__all__ = ["EventedManager", "EventedQuerySet", "SilentWriteRefused", "save_emissions"]

_M = TypeVar("_M", bound=models.Model)

#: The signals ``bulk_create``, ``bulk_update`` and ``update`` skip.
SKIPPED_SIGNALS = (pre_save, post_save)


class SilentWriteRefused(RuntimeError):
    """A bulk write that sends no signals was asked of a model whose saves emit events."""


def save_emissions(model: type[models.Model]) -> list[Emission]:
    """The emissions declared on ``pre_save``/``post_save`` of ``model``, in declaration order."""
    # Imported here: the models that use this module load before the declarations may.
    from courier_web.outbox.declarations import emissions

    return [e for e in emissions() if e.sender is model and e.signal in SKIPPED_SIGNALS]


class EventedQuerySet(models.QuerySet[_M]):
    """A QuerySet whose signal-less bulk writes are refused while its model's saves emit events."""

    _events_waived_because: str | None = None

    def without_events(self, *, reason: str) -> Self:
        """This QuerySet, allowed to write without events; ``reason`` says why that is right."""
        if not reason.strip():
            raise ValueError("without_events() needs a reason: why may these writes emit nothing?")
        clone = self.all()
        clone._events_waived_because = reason
        return clone

    def _clone(self) -> Self:
        # Every QuerySet method copies through here: the waiver survives filter(), using()...
        clone: Self = super()._clone()  # type: ignore[misc]
        clone._events_waived_because = self._events_waived_because
        return clone

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[_M]:
        self._refuse_silent_write("bulk_create", "evented_bulk_create({model}, objs)")
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        self._refuse_silent_write("bulk_update", "evented_bulk_update({model}, objs, fields)")
        return super().bulk_update(objs, fields, *args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._refuse_silent_write(
            "update", "evented_bulk_update({model}, objs, fields), or save() of each instance"
        )
        return super().update(**kwargs)

    def _refuse_silent_write(self, call: str, evented_way: str) -> None:
        if self._events_waived_because is not None:
            return
        declared = save_emissions(self.model)
        if not declared:
            return
        label = self.model._meta.label
        way = evented_way.format(model=self.model.__name__)
        events = ", ".join(sorted({e.event_type for e in declared}))
        raise SilentWriteRefused(
            f"{label}.objects.{call}() sends no pre_save/post_save signal, so the events of "
            f"{label}'s saves ({events}) would be lost. The evented way: "
            f"courier_web.outbox.{way}, which writes the rows and their events in one "
            "transaction (docs/bulk-writes.md). If these writes are no event, "
            f"say why: {self.model.__name__}.objects.without_events(reason='...').{call}(...)"
        )


_EventedManagerBase = models.Manager.from_queryset(EventedQuerySet)


class EventedManager(_EventedManagerBase[_M]):
    """The default manager of a model whose saves emit events."""
