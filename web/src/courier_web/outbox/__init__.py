"""The transactional outbox: events written with the change, published after commit.

The public API is the emission declaration: ``emits(...)`` in an app's
``events.py``, ``emissions()`` to list them, ``Emission`` for one of them
(``declarations.py``). They are imported on first use, not with the package:
Django imports this package while it loads the apps, before any model may be
defined, and the declarations reach the outbox's model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from courier_web.outbox.declarations import Emission, emissions, emits

__all__ = ["Emission", "emissions", "emits"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("courier_web.outbox.declarations"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
