"""The callbacks of one audited model: snapshot receivers, and the emissions' ``when``/``build``.

``declarations.audited`` connects them; see there for what an event carries.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import models
from shared_contracts.events.audit import EntityChanged

from courier_web.actor import current_actor_id
from courier_web.audit.tracking import Tracked
from courier_web.audit.versions import FIRST_VERSION, next_version

__all__ = ["Receivers"]

Action = Literal["created", "updated", "deleted"]


@dataclass(frozen=True)
class Receivers:
    """The callbacks of one audited model: snapshot receivers, and ``when``/``build``."""

    model: type[models.Model]
    entity: str
    key_attname: str
    tracked: Tracked
    #: attribute name -> field name of the fields whose new values events carry.
    shared: Mapping[str, str] = field(default_factory=dict)

    def on_init(self, sender: Any, instance: models.Model, **_: Any) -> None:
        self.tracked.snapshot(instance)

    def on_saved(self, sender: Any, instance: models.Model, **kwargs: Any) -> None:
        self.tracked.snapshot_saved(instance, None if kwargs.get("created") else _fields(kwargs))

    def on_bulk_updated(self, sender: Any, instances: Any, **kwargs: Any) -> None:
        for instance in instances:
            self.tracked.snapshot_saved(instance, _fields(kwargs))

    def changes(self, instance: models.Model, *, created: bool, **kwargs: Any) -> bool:
        return created or bool(self.tracked.changed(instance, _fields(kwargs)))

    def saved(self, instance: models.Model, *, created: bool, **kwargs: Any) -> EntityChanged:
        if created:
            return self._event(instance, "created", FIRST_VERSION, self.tracked.all_names())
        changed = self.tracked.changed(instance, _fields(kwargs))
        return self._event(instance, "updated", self._next(instance, kwargs), changed)

    def deleted(self, instance: models.Model, **kwargs: Any) -> EntityChanged:
        return self._event(instance, "deleted", self._next(instance, kwargs), ())

    def uid(self, signal_name: str) -> str:
        return f"courier.audit:{self.model._meta.label}:{signal_name}"

    def _event(
        self, instance: models.Model, action: Action, version: int, changed: tuple[str, ...]
    ) -> EntityChanged:
        return EntityChanged(
            entity=self.entity,
            entity_id=self._key_of(instance),
            action=action,
            version=version,
            changed_fields=changed,
            actor_id=current_actor_id(),
            values=self._shared_values(instance, changed),
        )

    def _shared_values(self, instance: models.Model, changed: tuple[str, ...]) -> dict[str, Any]:
        """The new values of the changed fields that are shared (from the instance: no query)."""
        return {
            name: _plain(getattr(instance, attname))
            for attname, name in self.shared.items()
            if name in changed
        }

    def _next(self, instance: models.Model, kwargs: dict[str, Any]) -> int:
        using = kwargs.get("using") or instance._state.db or "default"
        return next_version(entity=self.entity, entity_id=self._key_of(instance), using=using)

    def _key_of(self, instance: models.Model) -> str:
        return str(getattr(instance, self.key_attname))


def _plain(value: Any) -> str | int | bool | None:
    """A value as the contract carries it: text, a number, a flag or none (else its text)."""
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _fields(kwargs: dict[str, Any]) -> Collection[str] | None:
    update_fields: Collection[str] | None = kwargs.get("update_fields")
    return update_fields
