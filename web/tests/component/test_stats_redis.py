"""``GET /api/stats`` cached in the real Redis (REDIS_TEST_URL), as with ``REDIS_URL`` set.

Keys live under a prefix of the test's own and are deleted afterwards.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from time import monotonic
from typing import Any

import pytest
import redis
from django.conf import settings as live
from django.core.cache import caches

from courier_web.config.cache import default_cache
from courier_web.stats.cached import CachedValue
from courier_web.stats.selectors import stats_get
from courier_web.users.services import user_create
from tests.conftest import STRONG_PASSWORD

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")

CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
AssertNumQueries = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def redis_cache(settings: Any) -> Iterator[str]:
    """The default cache is Redis, under a key prefix of this test's own."""
    prefix = f"courier-test-{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is needed at {REDIS_URL} (REDIS_TEST_URL): {exc}")
    backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    settings.CACHES = {
        "default": {**backend, "KEY_PREFIX": prefix},
        "other": {**backend, "KEY_PREFIX": prefix},  # a second web process's connection
    }
    yield prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()
    for alias in ("default", "other"):
        caches[alias].close()


@pytest.mark.django_db
def test_reads_come_from_redis_and_a_registration_shows_after_its_commit(
    redis_cache: str,
    django_assert_num_queries: AssertNumQueries,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    with django_assert_num_queries(2):
        assert stats_get()["users"] == 0
    with django_assert_num_queries(0):
        for _ in range(20):
            assert stats_get()["users"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        user_create(email="ada@example.com", password=STRONG_PASSWORD)

    assert stats_get()["users"] == 1
    client = redis.Redis.from_url(REDIS_URL)
    assert list(client.scan_iter(f"{redis_cache}:*courier:stats:v1:*"))


def test_two_processes_sharing_redis_compute_once_and_see_one_invalidation(
    redis_cache: str,
) -> None:
    calls: list[int] = []
    release = threading.Event()
    started = threading.Event()

    def compute() -> dict[str, int]:
        calls.append(1)
        started.set()
        assert release.wait(10)
        return {"computed": len(calls)}

    name = f"test:{uuid.uuid4().hex[:8]}"
    first = CachedValue(name, compute, timeout=lambda: 60.0)
    second = CachedValue(name, compute, timeout=lambda: 60.0, cache_alias="other")
    results: dict[str, Any] = {}
    threads = [
        threading.Thread(target=lambda: results.__setitem__("first", first.get())),
        threading.Thread(target=lambda: results.__setitem__("second", second.get())),
    ]
    threads[0].start()
    assert started.wait(5)
    threads[1].start()
    release.set()
    for thread in threads:
        thread.join(15)

    assert len(calls) == 1
    assert results == {"first": {"computed": 1}, "second": {"computed": 1}}
    first.invalidate()
    assert second.get() == {"computed": 2}


@pytest.fixture
def hung_redis_url() -> Iterator[str]:
    """A Redis that accepts connections and never answers (a paused or wedged server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # the kernel completes the handshakes; nobody ever reads
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        listener.close()


@pytest.mark.django_db
def test_a_hung_redis_costs_a_read_and_an_invalidation_the_cache_timeout_not_more(
    hung_redis_url: str, settings: Any
) -> None:
    settings.CACHES = {"default": default_cache(hung_redis_url, timeout=live.REDIS_CACHE_TIMEOUT)}
    try:
        started = monotonic()
        assert stats_get()["users"] == 0  # answered from the database
        user_create(email=f"{uuid.uuid4().hex[:8]}@example.com", password=STRONG_PASSWORD)
        elapsed = monotonic() - started
    finally:
        caches["default"].close()
    # A read (get, lock, set, unlock) and an invalidation, each bounded by the timeout.
    assert elapsed < 12 * live.REDIS_CACHE_TIMEOUT + 1, elapsed
