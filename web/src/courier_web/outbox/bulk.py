"""Bulk writes that keep their events: many rows and their outbox rows in one transaction.

Django's ``bulk_create`` and ``bulk_update`` send no signals, so no emission
sees them (and ``EventedQuerySet`` refuses them on a model whose saves emit).
``evented_bulk_create(Model, objs)`` inserts the rows, then asks every
emission declared on ``pre_save``/``post_save`` of ``Model`` about each row,
exactly as their receivers would (``created=True``, ``update_fields=None``,
``raw=False``, ``using``), and writes all the events with one INSERT into the
outbox; ``evented_bulk_update`` does the same for ``bulk_update`` (``created=False``,
``update_fields`` the saved fields). A rollback takes rows and events together.

Plain receivers of ``post_save`` (a profile per user, a cache to invalidate)
are not called: they connect to ``post_bulk_create`` / ``post_bulk_update``,
sent once per call with every instance, so that their bulk counterpart costs a
constant number of queries too. ``courier-web signals`` lists both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import NotSupportedError, connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from shared_contracts import Event

from courier_web.correlation import correlation_id
from courier_web.outbox.guard import EventedQuerySet, save_emissions
from courier_web.outbox.writing import outbox_enqueue_many

__all__ = ["evented_bulk_create", "evented_bulk_update", "post_bulk_create", "post_bulk_update"]

M = TypeVar("M", bound=Model)

#: Sent once per ``evented_bulk_create``, inside its transaction, after the rows
#: and their events are written: ``sender`` (the model), ``instances`` (with
#: their primary keys), ``using``.
post_bulk_create = Signal()
#: Sent once per ``evented_bulk_update``, inside its transaction: ``sender``,
#: ``instances``, ``update_fields`` (a frozenset), ``using``.
post_bulk_update = Signal()

_REASON = "courier_web.outbox.bulk writes the events itself"


def evented_bulk_create(
    model: type[M], objs: Iterable[M], *, batch_size: int | None = None, using: str | None = None
) -> list[M]:
    """Insert ``objs`` (one INSERT per backend batch) and their events, in one transaction.

    Returns the instances with their primary keys. Raises ``NotSupportedError``
    on a database that cannot return the keys of a bulk insert (the events
    need them); PostgreSQL and SQLite 3.35+ can.
    """
    instances = list(objs)
    db = using or router.db_for_write(model)
    if not connections[db].features.can_return_rows_from_bulk_insert:
        raise NotSupportedError(
            f"evented_bulk_create({model._meta.label}): the {connections[db].vendor} "
            "database cannot return the primary keys of a bulk insert, which the events need"
        )
    if not instances:
        return instances
    with transaction.atomic(using=db):
        events = _events(model, instances, pre_save, update_fields=None, using=db)
        created = _writable(model, db).bulk_create(instances, batch_size=batch_size)
        events += _events(model, created, post_save, created=True, update_fields=None, using=db)
        outbox_enqueue_many(events, correlation_id=correlation_id())
        post_bulk_create.send(sender=model, instances=created, using=db)
    return created


def evented_bulk_update(
    model: type[M],
    objs: Iterable[M],
    fields: Sequence[str],
    *,
    batch_size: int | None = None,
    using: str | None = None,
) -> int:
    """Save ``fields`` of ``objs`` (Django's ``bulk_update``) and their events, in one transaction.

    Returns the number of rows updated.
    """
    instances = list(objs)
    if not instances:
        return 0
    db = using or router.db_for_write(model)
    update_fields = frozenset(fields)
    with transaction.atomic(using=db):
        events = _events(model, instances, pre_save, update_fields=update_fields, using=db)
        updated = _writable(model, db).bulk_update(instances, list(fields), batch_size=batch_size)
        events += _events(
            model, instances, post_save, created=False, update_fields=update_fields, using=db
        )
        outbox_enqueue_many(events, correlation_id=correlation_id())
        post_bulk_update.send(
            sender=model, instances=instances, update_fields=update_fields, using=db
        )
    return updated


def _writable(model: type[M], db: str) -> QuerySet[M]:
    queryset: QuerySet[M] = model._default_manager.db_manager(db).all()
    if isinstance(queryset, EventedQuerySet):
        return queryset.without_events(reason=_REASON)
    return queryset


def _events(
    model: type[Model], instances: list[M], signal: Signal, **signal_kwargs: Any
) -> list[Event]:
    """What the emissions on ``signal`` of ``model`` would write for each instance, in order."""
    declared = [e for e in save_emissions(model) if e.signal is signal]
    events: list[Event] = []
    for instance in instances:
        for emission in declared:
            kwargs = {"raw": False, **signal_kwargs}
            if emission.when is not None and not emission.when(instance, **kwargs):
                continue
            event = emission.build(instance, **kwargs)
            if type(event) is not emission.event:
                raise TypeError(
                    f"{emission}: build returned {type(event).__qualname__}, "
                    f"not the declared {emission.event.__qualname__}"
                )
            events.append(event)
    return events
