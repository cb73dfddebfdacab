"""What the worker's stores share: one instance per process, and a database beside the worker's.

SQLAlchemy engines do not survive a fork (Celery's prefork pool): each process
builds its own store on first use. On SQLite a store that others write to as
well gets a file of its own beside the worker's (one writer lock per file);
on PostgreSQL every store uses the worker's database.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from sqlalchemy.engine import make_url

T = TypeVar("T")


class PerProcess(Generic[T]):
    """A value built on first use in each process, by ``build``."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._values: dict[int, T] = {}

    def get(self) -> T:
        pid = os.getpid()
        value = self._values.get(pid)
        if value is None:
            with self._lock:
                value = self._values.get(pid)
                if value is None:
                    self._values.clear()  # a parent process's value
                    value = self._values[pid] = self._build()
        return value

    @contextmanager
    def use(self, value: T) -> Iterator[T]:
        """``value`` in this process inside the block (tests); the next use builds afresh."""
        with self._lock:
            self._values.clear()
            self._values[os.getpid()] = value
        try:
            yield value
        finally:
            with self._lock:
                self._values.clear()


def sidecar_database_url(database_url: str, name: str) -> str:
    """``database_url``, or on SQLite a file beside it named after ``name``.

    ``worker.sqlite3`` becomes ``worker-<name>.sqlite3``. In-memory databases and
    ``file:`` URIs (shared memory, say) are left as they are: the caller knows
    what it wants.
    """
    url = make_url(database_url)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return database_url
    if database.startswith("file:"):
        return database_url
    stem, dot, suffix = database.rpartition(".")
    own = f"{stem}-{name}.{suffix}" if dot and "/" not in suffix else f"{database}-{name}"
    return url.set(database=own).render_as_string(hide_password=False)
