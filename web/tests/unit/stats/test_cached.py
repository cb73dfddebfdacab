"""``CachedValue``: computed once per miss, however many ask; stale values never come back."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache.backends.base import BaseCache

from courier_web.stats.cached import CachedValue
from tests.conftest import CapturedLogs


class Counter:
    """A compute function that counts its calls and can be held until released."""

    def __init__(self, *, hold: bool = False) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, int]:
        with self._lock:
            self.calls += 1
            number = self.calls
        self.started.set()
        assert self.release.wait(10), "the test never released the computation"
        return {"computed": number}


def cached(compute: Callable[[], Any], name: str, **kwargs: Any) -> CachedValue[Any]:
    return CachedValue(name, compute, timeout=lambda: 60.0, **kwargs)


@pytest.fixture
def name() -> str:
    return f"test:{uuid.uuid4().hex[:8]}"


def in_threads(count: int, function: Callable[[], Any]) -> tuple[list[threading.Thread], list[Any]]:
    """Start ``count`` threads calling ``function``; their results fill the list as they end."""
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        results[index] = function()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def test_concurrent_misses_in_one_process_compute_once(name: str) -> None:
    compute = Counter(hold=True)
    value = cached(compute, name)

    threads, results = in_threads(8, value.get)
    assert compute.started.wait(5)
    compute.release.set()
    for thread in threads:
        thread.join(10)

    assert compute.calls == 1
    assert results == [{"computed": 1}] * 8


def test_two_processes_sharing_a_cache_compute_once(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two instances of one name have a process lock each, as two web processes
    # would, and share the cache (Redis in production): the cache's lock key decides.
    compute = Counter(hold=True)
    first, second = cached(compute, name), cached(compute, name)
    waits = threading.Event()

    def observed_sleep(seconds: float) -> None:
        waits.set()
        time.sleep(seconds)

    monkeypatch.setattr("courier_web.stats.cached.sleep", observed_sleep)

    threads, results = in_threads(1, first.get)
    assert compute.started.wait(5)
    waiting, waited = in_threads(1, second.get)
    assert waits.wait(5), "the second process did not wait for the first one's value"
    compute.release.set()
    for thread in [*threads, *waiting]:
        thread.join(10)

    assert compute.calls == 1
    assert results == waited == [{"computed": 1}]


def test_an_invalidation_during_a_computation_is_not_lost(name: str) -> None:
    compute = Counter(hold=True)
    value = cached(compute, name)

    threads, results = in_threads(1, value.get)
    assert compute.started.wait(5)
    value.invalidate()  # a commit lands while the old numbers are being read
    compute.release.set()
    threads[0].join(10)

    assert results == [{"computed": 1}]
    assert value.get() == {"computed": 2}
    assert value.get() == {"computed": 2}


def test_a_new_scope_is_a_new_value(name: str) -> None:
    compute = Counter()
    day = ["2026-03-01"]
    value = cached(compute, name, scope=lambda: day[0])

    first = value.get()
    day[0] = "2026-03-02"

    assert value.get() != first
    assert compute.calls == 2


class DownCache(BaseCache):
    """A cache whose server does not answer."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        raise ConnectionError("cache server unreachable")

    add = set = delete = get  # type: ignore[assignment]


@pytest.fixture
def down_cache(settings: Any) -> str:
    settings.CACHES = {
        **settings.CACHES,
        "down": {"BACKEND": f"{__name__}.DownCache"},
    }
    return "down"


def test_without_a_cache_every_read_computes_and_one_warning_says_so(
    name: str, down_cache: str, captured_logs: CapturedLogs
) -> None:
    compute = Counter()
    value = cached(compute, name, cache_alias=down_cache)

    reads = [value.get() for _ in range(3)]
    value.invalidate()

    assert reads == [{"computed": 1}, {"computed": 2}, {"computed": 3}]
    warnings = captured_logs.events("cache.unavailable")
    assert len(warnings) == 1
    assert "unreachable" in warnings[0]["error"]
