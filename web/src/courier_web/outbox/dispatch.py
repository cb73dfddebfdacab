"""Handing committed outbox rows to a publisher, so the relay is only a safety net.

The dispatcher in use is built lazily from ``settings.OUTBOX_DISPATCH``
(``thread`` or ``off``); tests install their own with ``use_dispatcher``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from django.conf import settings
from django.db import transaction


class Dispatcher(Protocol):
    """Takes the id of a committed outbox row; must never raise or block."""

    def submit(self, row_id: int) -> None: ...


class NullDispatcher:
    """Publishes nothing: every row waits for ``relay_outbox``."""

    def submit(self, row_id: int) -> None:
        return None


_lock = threading.Lock()
_dispatcher: Dispatcher | None = None


def get_dispatcher() -> Dispatcher:
    global _dispatcher
    if _dispatcher is None:
        with _lock:
            if _dispatcher is None:
                _dispatcher = _from_settings()
    return _dispatcher


def _from_settings() -> Dispatcher:
    mode = settings.OUTBOX_DISPATCH
    if mode == "off":
        return NullDispatcher()
    if mode == "thread":
        from courier_web.outbox.background import ThreadedDispatcher

        return ThreadedDispatcher.from_settings()
    raise ValueError(f"OUTBOX_DISPATCH must be 'thread' or 'off', not {mode!r}")


@contextmanager
def use_dispatcher(dispatcher: Dispatcher) -> Iterator[Dispatcher]:
    """Install ``dispatcher`` inside the block (tests, benchmarks)."""
    global _dispatcher
    previous = _dispatcher
    _dispatcher = dispatcher
    try:
        yield dispatcher
    finally:
        _dispatcher = previous


def dispatch_after_commit(row_id: int) -> None:
    """Hand ``row_id`` to the dispatcher once (and only if) the transaction commits."""
    transaction.on_commit(lambda: get_dispatcher().submit(row_id), robust=True)
