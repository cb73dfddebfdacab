"""The worker's handlers, one module per subdomain, each declared with ``@handles``.

Importing this package imports every module in it, so that each handler
declared there is registered (``registry.py``): adding a module is all it
takes for the task registration, the queue bindings and ``HANDLERS`` to
know its handlers.
"""

from __future__ import annotations

import importlib
import pkgutil

from courier_worker.handlers.base import Dependencies, Handler
from courier_worker.handlers.registry import (
    HANDLERS,
    HandlerDeclaration,
    HandlerDeclarationError,
    declaration_for,
    declarations,
    declare,
    handles,
)

for _module in pkgutil.iter_modules(__path__, f"{__name__}."):
    importlib.import_module(_module.name)

__all__ = [
    "HANDLERS",
    "Dependencies",
    "Handler",
    "HandlerDeclaration",
    "HandlerDeclarationError",
    "declaration_for",
    "declarations",
    "declare",
    "handles",
]
