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

The composition root, ``OutboxConfig.ready()``, builds the dispatcher once
(``dispatcher_from_settings``; building one opens nothing) and keeps it on the
app config; tests and benchmarks swap it with ``use_dispatcher``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, cast

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from courier_web.outbox.background import ThreadedDispatcher

__all__ = [
    "MODES",
    "Dispatcher",
    "NullDispatcher",
    "dispatch_after_commit",
    "dispatch_mode",
    "dispatcher_from_settings",
    "get_dispatcher",
    "use_dispatcher",
]


class Dispatcher(Protocol):
    """Takes the id of a committed outbox row; must never raise or block."""

    def submit(self, row_id: int) -> None: ...


class NullDispatcher:
    """Publishes nothing: every row waits for ``relay_outbox``."""

    def submit(self, row_id: int) -> None:
        return None


class _Composed(Protocol):
    """The outbox's app config, once ``ready()`` has built the dispatcher."""

    dispatcher: Dispatcher


MODES = ("auto", "notify", "thread", "off")


def dispatch_mode() -> str:
    """``OUTBOX_DISPATCH`` with ``auto`` resolved for the configured database.

    Reads the database backend's vendor only: no connection is opened.
    """
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


def dispatcher_from_settings() -> Dispatcher:
    """The dispatcher ``OUTBOX_DISPATCH`` asks for; nothing is connected or started yet."""
    if dispatch_mode() == "thread":
        return ThreadedDispatcher.from_settings()  # its thread starts on the first row
    return NullDispatcher()  # notify: the database tells the relay; off: the relay polls


def _composed() -> _Composed:
    return cast(_Composed, apps.get_app_config("outbox"))


def get_dispatcher() -> Dispatcher:
    """The dispatcher in use: the one ``OutboxConfig.ready()`` built, unless swapped."""
    return _composed().dispatcher


@contextmanager
def use_dispatcher(dispatcher: Dispatcher) -> Iterator[Dispatcher]:
    """Install ``dispatcher`` inside the block (tests, benchmarks)."""
    config = _composed()
    previous = config.dispatcher
    config.dispatcher = dispatcher
    try:
        yield dispatcher
    finally:
        config.dispatcher = previous


def dispatch_after_commit(row_id: int) -> None:
    """Hand ``row_id`` to the dispatcher once (and only if) the transaction commits."""
    transaction.on_commit(lambda: get_dispatcher().submit(row_id), robust=True)
