"""The shared token bucket against the real Redis at REDIS_TEST_URL (default 127.0.0.1:6379)."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import Client

from courier_web.ratelimit import Rate, RedisBucket
from tests.component.conftest import closed_port
from tests.conftest import STRONG_PASSWORD, CapturedLogs

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    value = f"courier-test:{uuid.uuid4().hex[:10]}:"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is needed at {REDIS_URL} (REDIS_TEST_URL): {exc}")
    yield value
    keys = list(client.scan_iter(f"{value}*"))
    if keys:
        client.delete(*keys)
    client.close()


def instance(rate: Rate, prefix: str, url: str = REDIS_URL, **kwargs: Any) -> RedisBucket:
    """What one web instance builds from its settings."""
    return RedisBucket.from_url(rate, url, timeout=0.5, prefix=prefix, **kwargs)


def test_two_instances_share_one_limit(prefix: str) -> None:
    first, second = instance(Rate(4, 60.0), prefix), instance(Rate(4, 60.0), prefix)

    decisions = [bucket.take("ip:198.51.100.7") for bucket in (first, second) * 3]

    assert [d.allowed for d in decisions if d] == [True, True, True, True, False, False]
    assert decisions[3] is not None
    assert decisions[3].remaining == 0
    assert decisions[4] is not None
    assert decisions[4].retry_after == 15
    other = first.take("ip:198.51.100.8")
    assert other is not None
    assert other.allowed


def test_the_script_is_atomic_under_concurrency(prefix: str) -> None:
    buckets = [instance(Rate(50, 3600.0), prefix) for _ in range(4)]
    results: list[bool] = []
    lock = threading.Lock()

    def hammer(bucket: RedisBucket) -> None:
        for _ in range(40):
            decision = bucket.take("user:1")
            assert decision is not None
            with lock:
                results.append(decision.allowed)

    threads = [threading.Thread(target=hammer, args=(b,)) for b in buckets for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 320
    assert results.count(True) == 50


def test_redis_down_fails_open_and_says_so_once(captured_logs: CapturedLogs) -> None:
    errors: list[Exception] = []
    bucket = instance(
        Rate(1, 60.0),
        "unused:",
        url=f"redis://127.0.0.1:{closed_port()}/0",
        on_error=errors.append,
    )

    decisions = [bucket.take("ip:1") for _ in range(5)]

    assert decisions == [None] * 5
    assert len(errors) == 1


@pytest.mark.django_db
def test_the_middleware_limits_across_instances_through_redis(settings: Any, prefix: str) -> None:
    settings.REDIS_URL = REDIS_URL
    settings.RATE_LIMIT_KEY_PREFIX = prefix
    settings.API_RATE_LIMIT = "2/minute"
    web_a, web_b = Client(), Client()  # two handlers: two middleware instances

    def register(client: Client, n: int) -> Any:
        return client.post(
            "/api/users",
            json.dumps({"email": f"r{n}@example.com", "password": STRONG_PASSWORD}),
            content_type="application/json",
        )

    statuses = [register(c, n).status_code for n, c in enumerate((web_a, web_b, web_a))]

    assert statuses == [201, 201, 429]


@pytest.mark.django_db
def test_the_middleware_fails_open_when_redis_is_down(
    settings: Any, captured_logs: CapturedLogs
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    settings.API_RATE_LIMIT = "1/minute"
    client = Client()

    statuses = [
        client.post(
            "/api/users",
            json.dumps({"email": f"d{n}@example.com", "password": STRONG_PASSWORD}),
            content_type="application/json",
        ).status_code
        for n in range(3)
    ]

    assert statuses == [201, 201, 201]
    assert len(captured_logs.events("ratelimit.redis_unavailable")) == 1
