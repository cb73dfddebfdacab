"""The per-client token bucket on the API's write methods (in-process bucket)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory

from courier_web.middleware.rate_limit import client_ip
from courier_web.ratelimit import LocalBucket, Rate, parse_rate
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def register(client: Client, n: int, **extra: Any) -> Any:
    return client.post(
        "/api/users",
        json.dumps({"email": f"user{n}@example.com", "password": STRONG_PASSWORD}),
        content_type="application/json",
        **extra,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("120/minute", Rate(120, 60.0)),
        ("10/second", Rate(10, 1.0)),
        ("1000/hour", Rate(1000, 3600.0)),
        ("50 / 5 minutes", Rate(50, 300.0)),
        ("0", None),
        ("off", None),
        ("", None),
    ],
)
def test_parse_rate(raw: str, expected: Rate | None) -> None:
    assert parse_rate(raw) == expected


def test_parse_rate_refuses_nonsense() -> None:
    with pytest.raises(ImproperlyConfigured, match="API_RATE_LIMIT"):
        parse_rate("lots")


def test_local_bucket_bursts_then_refills_at_the_steady_rate() -> None:
    now = [0.0]
    bucket = LocalBucket(Rate(3, 3.0), clock=lambda: now[0])

    decisions = [bucket.take("ip:1") for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[2].remaining == 0
    assert decisions[3].retry_after == 1
    assert bucket.take("ip:2").allowed  # another client has its own bucket
    now[0] = 1.0
    assert bucket.take("ip:1").allowed
    assert not bucket.take("ip:1").allowed


def test_local_bucket_is_thread_safe() -> None:
    bucket = LocalBucket(Rate(100, 3600.0))
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(50):
            decision = bucket.take("ip:1")
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert allowed.count(True) == 100


def test_over_the_limit_is_429_with_retry_after_and_ratelimit_headers(
    client: Client, settings: Any
) -> None:
    settings.API_RATE_LIMIT = "2/minute"

    first, second, third = (register(client, n) for n in range(3))

    assert (first.status_code, second.status_code) == (201, 201)
    assert first["RateLimit-Limit"] == "2"
    assert first["RateLimit-Remaining"] == "1"
    assert second["RateLimit-Remaining"] == "0"
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "rate_limited"
    assert int(third["Retry-After"]) == 30
    assert third["RateLimit-Limit"] == "2"
    assert third["RateLimit-Remaining"] == "0"
    assert int(third["RateLimit-Reset"]) == 60
    assert third["X-Request-ID"]


def test_reads_and_probes_are_never_limited(client: Client, settings: Any) -> None:
    settings.API_RATE_LIMIT = "1/minute"
    register(client, 0)

    assert register(client, 1).status_code == 429
    for path in ("/healthz", "/api/openapi.json", "/metrics"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "RateLimit-Limit" not in response


def test_off_disables_the_limiter(client: Client, settings: Any) -> None:
    settings.API_RATE_LIMIT = "off"

    responses = [register(client, n) for n in range(5)]

    assert {r.status_code for r in responses} == {201}
    assert "RateLimit-Limit" not in responses[0]


def test_clients_are_told_apart_by_ip(client: Client, settings: Any) -> None:
    settings.API_RATE_LIMIT = "1/minute"

    assert register(client, 0, REMOTE_ADDR="10.0.0.1").status_code == 201
    assert register(client, 1, REMOTE_ADDR="10.0.0.1").status_code == 429
    assert register(client, 2, REMOTE_ADDR="10.0.0.2").status_code == 201


def test_x_forwarded_for_is_ignored_without_trusted_proxies(client: Client, settings: Any) -> None:
    settings.API_RATE_LIMIT = "1/minute"
    settings.TRUSTED_PROXY_COUNT = 0

    assert register(client, 0, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 201
    # A forged header does not buy a fresh bucket.
    assert register(client, 1, HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429


def test_client_ip_trusts_only_as_many_forwarded_entries_as_proxies() -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )

    assert client_ip(request, trusted_proxies=0) == "10.0.0.9"
    assert client_ip(request, trusted_proxies=1) == "203.0.113.7"
    assert client_ip(request, trusted_proxies=2) == "6.6.6.6"
    assert client_ip(request, trusted_proxies=3) == "10.0.0.9"
