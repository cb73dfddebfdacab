"""The transactional outbox: events written with the change, published after commit.

The public API is the emission declaration: ``emits(...)`` in an app's
``events.py``, ``emissions()`` to list them, ``Emission`` for one of them
(``declarations.py``); ``evented_bulk_create`` / ``evented_bulk_update`` and
their signals ``post_bulk_create`` / ``post_bulk_update`` for many rows and their
events at once (``bulk.py``); ``EventedManager`` / ``EventedQuerySet``, which
refuse ``bulk_create``/``update`` that would skip a model's events, raising
``SilentWriteRefused`` (``guard.py``). They are imported on first use, not with the package:
Django imports this package while it loads the apps, before any model may be
defined, and the declarations reach the outbox's model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from courier_web.outbox.bulk import (
        evented_bulk_create,
        evented_bulk_update,
        post_bulk_create,
        post_bulk_update,
    )
    from courier_web.outbox.declarations import Emission, emissions, emits
    from courier_web.outbox.guard import EventedManager, EventedQuerySet, SilentWriteRefused

#: Each public name and the module that defines it.
_HOMES = {
    "Emission": "declarations",
    "emissions": "declarations",
    "emits": "declarations",
    "evented_bulk_create": "bulk",
    "evented_bulk_update": "bulk",
    "post_bulk_create": "bulk",
    "post_bulk_update": "bulk",
    "EventedManager": "guard",
    "EventedQuerySet": "guard",
    "SilentWriteRefused": "guard",
}

__all__ = [
    "Emission",
    "EventedManager",
    "EventedQuerySet",
    "SilentWriteRefused",
    "emissions",
    "emits",
    "evented_bulk_create",
    "evented_bulk_update",
    "post_bulk_create",
    "post_bulk_update",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"courier_web.outbox.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
