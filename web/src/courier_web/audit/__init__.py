"""The audit trail: one line makes a model's changes ``entity.changed.v1`` events.

``audited(Model, entity="...")`` in an app's ``events.py`` (``declarations.py``)
declares, through the outbox's ``emits(...)``, one event per creation, per save
that changed an audited field and per deletion, naming the changed fields,
never their values. ``audits()`` lists the audited models. Imported on first
use, not with the package: Django imports this package while it loads the
apps, before any model may be defined.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from courier_web.audit.declarations import Audit, audited, audits

__all__ = ["Audit", "audited", "audits"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("courier_web.audit.declarations"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
