"""One value computed from the database, kept in Django's cache until it is invalidated.

Reads are served from the cache (``REDIS_URL``: Redis, shared by every web
process; otherwise the process's own memory). A miss recomputes the value
once, not once per request: the threads of a process queue on a lock, and
processes sharing Redis take a lock key with ``cache.add`` (atomic there); the
others wait for its value, and compute it themselves only if it never comes.

Invalidation changes a *generation* token that every key includes, instead of
deleting the value: a recompute that started before the invalidation stores
its (now stale) value under the old generation, where no reader looks. Values
also expire after ``timeout`` seconds, which bounds how stale a process-local
cache can be in the processes that did not see the change. If the cache does
not answer, the value is computed for each read (and a warning logged once).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from time import monotonic, sleep
from typing import Any, Generic, TypeVar

import structlog
from django.core.cache import BaseCache, caches

__all__ = ["CachedValue"]

log = structlog.get_logger(__name__)

T = TypeVar("T")


class _CacheDown(Exception):
    """The cache backend failed; the value is computed without it."""


class CachedValue(Generic[T]):
    """``compute()``'s result, cached under ``name`` until ``invalidate()``."""

    def __init__(
        self,
        name: str,
        compute: Callable[[], T],
        *,
        timeout: Callable[[], float],
        scope: Callable[[], str] = lambda: "",
        lock_timeout: float = 10.0,
        cache_alias: str = "default",
    ) -> None:
        self.name = name
        self._compute = compute
        self._timeout = timeout
        #: Part of the key: a value computed for one scope (a day) is never served for another.
        self._scope = scope
        self._lock_timeout = lock_timeout
        self._alias = cache_alias
        self._process_lock = threading.Lock()
        self._cache_down = False

    def get(self) -> T:
        """The cached value, or a fresh one (computed once however many ask at the same time)."""
        try:
            key = self._value_key()
            cached = self._call("get", key)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
            with self._process_lock:
                cached = self._call("get", key)
                if cached is not None:
                    return cached  # type: ignore[no-any-return]
                return self._compute_once(key)
        except _CacheDown:
            return self._compute()

    def invalidate(self) -> None:
        """Make every read from now on compute a fresh value (logged as a warning if it fails)."""
        self._quietly("set", self._generation_key, _token(), None)

    @property
    def _generation_key(self) -> str:
        return f"{self.name}:generation"

    def _value_key(self) -> str:
        generation = self._call("get", self._generation_key)
        if generation is None:
            self._call("add", self._generation_key, _token(), None)
            generation = self._call("get", self._generation_key)
        return f"{self.name}:{generation}:{self._scope()}"

    def _compute_once(self, key: str) -> T:
        lock_key = f"{key}:lock"
        deadline = monotonic() + self._lock_timeout
        pause = 0.005
        while monotonic() < deadline:
            if self._call("add", lock_key, 1, self._lock_timeout):
                try:
                    value = self._compute()
                    self._quietly("set", key, value, self._timeout())
                    return value
                finally:
                    self._quietly("delete", lock_key)
            # Another process is computing it: its value will be there shortly.
            sleep(pause)
            pause = min(pause * 2, 0.1)
            cached = self._call("get", key)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        return self._compute()  # it never came: answer anyway rather than fail

    def _quietly(self, method: str, *args: Any) -> None:
        with contextlib.suppress(_CacheDown):
            self._call(method, *args)

    def _call(self, method: str, *args: Any) -> Any:
        cache: BaseCache = caches[self._alias]
        try:
            result = getattr(cache, method)(*args)
        except Exception as exc:
            if not self._cache_down:
                self._cache_down = True
                log.warning("cache.unavailable", value=self.name, error=repr(exc))
            raise _CacheDown from exc
        if self._cache_down:
            self._cache_down = False
            log.info("cache.back", value=self.name)
        return result


def _token() -> str:
    return uuid.uuid4().hex
