"""System check ``courier.E001``: a model whose saves emit events refuses silent bulk writes.

Registered by ``OutboxConfig.ready()``; runs with ``check``, ``migrate``,
``runserver`` and the test suite's own check test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core import checks
from django.db import models

from courier_web.outbox.guard import EventedQuerySet, save_emissions

__all__ = ["check_evented_models_refuse_silent_writes"]


@checks.register(checks.Tags.models)
def check_evented_models_refuse_silent_writes(
    app_configs: Iterable[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """An Error per manager of an emitting model that lets ``bulk_create``/``update`` through."""
    from courier_web.outbox.declarations import emissions

    models_with_events = {
        e.sender for e in emissions() if isinstance(e.sender, type) and save_emissions(e.sender)
    }
    wanted = None if app_configs is None else {config.label for config in app_configs}
    errors: list[checks.CheckMessage] = []
    for model in sorted(models_with_events, key=lambda m: m._meta.label):
        if wanted is not None and model._meta.app_label not in wanted:
            continue
        errors += _unguarded_managers(model)
    return errors


def _unguarded_managers(model: type[models.Model]) -> list[checks.CheckMessage]:
    label = model._meta.label
    events = ", ".join(sorted({e.event_type for e in save_emissions(model)}))
    return [
        checks.Error(
            f"{label} emits {events} on save, but its manager {manager.name!r} lets "
            "bulk_create(), bulk_update() and update() write without those events.",
            hint=(
                "Build the manager from courier_web.outbox.EventedQuerySet "
                "(objects = EventedManager(), or YourManager.from_queryset(EventedQuerySet)); "
                "write many rows with courier_web.outbox.evented_bulk_create / evented_bulk_update."
            ),
            obj=model,
            id="courier.E001",
        )
        for manager in model._meta.managers
        # Building a QuerySet runs no query.
        if not isinstance(manager.get_queryset(), EventedQuerySet)
    ]
