"""``audited(Model, entity=...)``: a model's changes become ``entity.changed.v1`` events.

One line in the app's ``events.py`` (imported by the outbox app, after the
models are loaded) audits a model::

    audited(User, entity="user", sensitive={"password"}, exclude={"last_login"})

It is built on the outbox's public declarations: two ``emits(EntityChanged,
...)``, on ``post_save`` (created, or updated when an audited field changed)
and on ``post_delete``; everything that replays the ``post_save`` emissions
(``evented_bulk_create``/``evented_bulk_update``) audits its rows too. Plain
receivers keep the snapshot the changes are computed from (``tracking.py``):
on ``post_init``, on ``post_save`` after the emission, and on the outbox's
``post_bulk_update`` (a bulk write replays the emissions, sends no ``post_save``).

What an event carries: the audit name, the record's key (its primary key
unless ``key`` names another unique field), the action, the version
(``versions.py``), the sorted names of the changed fields (every audited
field at creation, none at deletion), the acting user (``courier_web.actor``)
and, in its envelope, the request id. Values only of the fields declared
``shared`` (consumers keep a copy of them: the worker's read model of users
takes the email and display name), in ``values``: the changed ones on an
update, all of them at creation. A sensitive field (``password``) is never
shared: it appears by name when it changed, and the audit keeps only a
digest of its value to tell. ``exclude`` drops a
field altogether (``last_login``: every log-in would be an update), as are
the primary key and ``auto_now`` fields (they change with every save).

What it costs: no query to know what changed; a creation writes its outbox
row only (one INSERT); an update that changed an audited field, and a
deletion, write the version upsert and their outbox row (two statements); a
save that changed nothing audited writes nothing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.db.models.signals import post_delete, post_init, post_save
from shared_contracts.events.audit import EntityChanged

from courier_web.audit.receivers import Receivers
from courier_web.audit.tracking import Tracked
from courier_web.outbox import Emission, emits, post_bulk_update

__all__ = ["Audit", "audited", "audits"]

ENTITY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_ENTITY_RE = re.compile(ENTITY_PATTERN)


@dataclass(frozen=True)
class Audit:
    """One audited model: its audit name, its audited fields and the emissions that write it."""

    model: type[models.Model]
    entity: str
    #: The field whose value keys the record in its events (the primary key unless ``key=``).
    key: str
    #: The audited fields' names, sorted.
    fields: tuple[str, ...]
    declared_in: str
    emissions: tuple[Emission, ...] = field(repr=False)
    receivers: Receivers = field(repr=False)

    def disconnect(self) -> None:
        """Undo the declaration (for tests): its emissions and snapshot receivers."""
        for emission in self.emissions:
            emission.disconnect()
        post_init.disconnect(sender=self.model, dispatch_uid=self.receivers.uid("post_init"))
        post_save.disconnect(sender=self.model, dispatch_uid=self.receivers.uid("post_save"))
        post_bulk_update.disconnect(
            sender=self.model, dispatch_uid=self.receivers.uid("post_bulk_update")
        )
        if _audits.get(self.model) is self:
            del _audits[self.model]


_audits: dict[type[models.Model], Audit] = {}


def audited(
    model: type[models.Model],
    *,
    entity: str,
    sensitive: Collection[str] = (),
    exclude: Collection[str] = (),
    key: str | None = None,
    shared: Collection[str] = (),
) -> Audit:
    """Audit ``model``: its creations, changes and deletions become ``entity.changed.v1``.

    ``entity`` names the records in events and in the trail (``user``);
    ``sensitive`` lists fields audited by name only, whose values are not
    even kept for comparison (a digest is); ``exclude`` lists fields not
    audited at all; ``key`` names the unique field that identifies a record
    in its events (default: the primary key); ``shared`` lists fields whose
    new values the events carry (never a sensitive or excluded one). Raises
    ``ImproperlyConfigured`` for a bad name, an unknown field, a sensitive or
    excluded field shared, or a model audited twice.
    """
    declared_in = sys._getframe(1).f_globals.get("__name__", "?")
    where = f"audited({getattr(model, '__name__', model)!r}) in {declared_in}"
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        raise ImproperlyConfigured(f"{where}: not a Django model")
    if not _ENTITY_RE.match(entity):
        raise ImproperlyConfigured(f"{where}: entity {entity!r} must match {ENTITY_PATTERN}")
    if (existing := _audits.get(model)) is not None:
        raise ImproperlyConfigured(f"{where}: already audited in {existing.declared_in}")
    key_name = key or (model._meta.pk.name if model._meta.pk else "id")
    columns = _columns(
        model,
        where,
        {"sensitive": sensitive, "exclude": exclude, "key": [key_name], "shared": shared},
    )
    if hidden := sorted(set(shared) & (set(sensitive) | set(exclude))):
        raise ImproperlyConfigured(
            f"{where}: shared names {', '.join(map(repr, hidden))}, "
            "which is sensitive or excluded: its value must not leave"
        )
    key_field = columns[key_name]
    if not (key_field.primary_key or key_field.unique):
        raise ImproperlyConfigured(f"{where}: key {key_name!r} is not a unique field")

    names = {
        f.attname: f.name
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in exclude and not getattr(f, "auto_now", False)
    }
    secret = frozenset(columns[name].attname for name in sensitive)
    receivers = Receivers(
        model,
        entity,
        key_field.attname,
        Tracked(names=names, sensitive=secret),
        shared={columns[name].attname: name for name in sorted(shared)},
    )
    on_save = emits(
        EntityChanged, on=post_save, sender=model, when=receivers.changes, build=receivers.saved
    )
    # Connected after the emission, which compares with the snapshot this one retakes.
    post_save.connect(
        receivers.on_saved, sender=model, weak=False, dispatch_uid=receivers.uid("post_save")
    )
    on_delete = emits(EntityChanged, on=post_delete, sender=model, build=receivers.deleted)
    post_init.connect(
        receivers.on_init, sender=model, weak=False, dispatch_uid=receivers.uid("post_init")
    )
    post_bulk_update.connect(
        receivers.on_bulk_updated,
        sender=model,
        weak=False,
        dispatch_uid=receivers.uid("post_bulk_update"),
    )
    audit = Audit(
        model=model,
        entity=entity,
        key=key_name,
        fields=receivers.tracked.all_names(),
        declared_in=declared_in,
        emissions=(on_save, on_delete),
        receivers=receivers,
    )
    _audits[model] = audit
    return audit


def audits() -> tuple[Audit, ...]:
    """Every audited model's declaration, in the order they were declared."""
    return tuple(_audits.values())


def _columns(
    model: type[models.Model], where: str, named: dict[str, Collection[str]]
) -> dict[str, models.Field[Any, Any]]:
    """The model's fields named by each argument; a name that is not a column is refused."""
    found: dict[str, models.Field[Any, Any]] = {}
    for argument, names in named.items():
        for name in names:
            try:
                column = model._meta.get_field(name)
            except FieldDoesNotExist:
                column = None
            if not isinstance(column, models.Field) or not column.concrete:
                raise ImproperlyConfigured(
                    f"{where}: {argument} names {name!r}, not a column of {model._meta.label}"
                )
            found[name] = column
    return found
