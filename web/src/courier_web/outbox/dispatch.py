"""Who publishes a committed outbox row right away: ``settings.OUTBOX_DISPATCH``.

* ``notify`` (PostgreSQL): the web process does nothing after commit; the
  outbox's INSERT trigger notifies ``courier_outbox`` and the relay, which
  LISTENs, publishes at once (``wakeup.py``). The request pays for the INSERT
  only, and one relay connection does all the publishing, in batches.
* ``thread``: an in-process background thread publishes each row after
  commit (``background.py``); the relay is a safety net for what it missed.
* ``off``: rows wait for the relay's next poll.
* ``auto`` (the default): ``notify`` on PostgreSQL, else ``thread`` (SQLite,
  the laptop default, has no LISTEN/NOTIFY).

The dispatcher in use is built lazily; tests install their own with
``use_dispatcher``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction


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


MODES = ("auto", "notify", "thread", "off")


def dispatch_mode() -> str:
    """``OUTBOX_DISPATCH`` with ``auto`` resolved for the configured database."""
    mode = str(settings.OUTBOX_DISPATCH).strip().lower()
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"OUTBOX_DISPATCH must be one of {', '.join(MODES)}, not {settings.OUTBOX_DISPATCH!r}"
        )
    postgres = connection.vendor == "postgresql"
    if mode == "auto":
        return "notify" if postgres else "thread"
    if mode == "notify" and not postgres:
        raise ImproperlyConfigured(
            f"OUTBOX_DISPATCH=notify needs PostgreSQL (LISTEN/NOTIFY), not {connection.vendor}"
        )
    return mode


def _from_settings() -> Dispatcher:
    if dispatch_mode() == "thread":
        from courier_web.outbox.background import ThreadedDispatcher

        return ThreadedDispatcher.from_settings()
    return NullDispatcher()  # notify: the database tells the relay; off: the relay polls


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
