"""One rate limit for every web container, kept in the stack's Redis; and Redis going away.

Two web containers from the same image, two gunicorn processes each, join the
stack with ``API_RATE_LIMIT=10/minute`` and the stack's ``REDIS_URL`` (the
same Redis that holds the session web's stats cache). Ten writes pass in
total, however the client spreads its requests over the two containers; the
rest are 429s. With Redis stopped the limiter fails open (documented): every
request is served, the staff statistics too (computed without the cache),
and each process says so once in its log. Once Redis is back the limit holds
again, exactly, and each process says that too.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from ..support.accounting import json_lines
from ..support.clients import WebClient
from ..support.containers import Web
from ..support.polling import wait_until
from ..support.stack import Stack

LIMIT = 10
#: Seconds for one token to come back: the tolerance of a burst that takes longer.
REFILL_SECONDS = 60 / LIMIT
PASSWORD = "correct-horse-9"


@pytest.fixture(scope="module")
def limited(stack: Stack) -> Iterator[list[Web]]:
    assert stack.redis is not None, "the session stack runs Redis"
    # A key prefix of this module's own: other tests' buckets (same client IP) stay apart.
    prefix = f"courier:ratelimit:{uuid.uuid4().hex[:8]}:"
    webs = []
    try:
        for number in (1, 2):
            alias = f"web-limited-{number}"
            env = {
                **stack.web_env(),
                "API_RATE_LIMIT": f"{LIMIT}/minute",
                "RATE_LIMIT_KEY_PREFIX": prefix,
                "WEB_CONCURRENCY": "2",
                "WEB_MIGRATE_ON_START": "false",
                "DJANGO_ALLOWED_HOSTS": f"127.0.0.1,localhost,{alias}",
            }
            webs.append(Web(stack.images.web, stack.network, env, alias=alias))
            webs[-1].start()
        yield webs
    finally:
        for web in webs:
            web.stop()


def _clients(webs: list[Web]) -> list[WebClient]:
    return [WebClient(web.base_url) for web in webs]


def _burst(clients: list[WebClient], domain: str, count: int, token: str | None = None) -> Counter:
    """``count`` registrations, alternating between the webs; status codes by web."""
    statuses: Counter[tuple[int, int]] = Counter()
    for n in range(count):
        which = n % len(clients)
        response = clients[which].call(
            "POST",
            "/api/users",
            token=token,
            json={"email": f"b{n}-{uuid.uuid4().hex[:6]}@{domain}", "password": PASSWORD},
        )
        statuses[(which, response.status_code)] += 1
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
    return statuses


def _user_token(web: WebClient, domain: str) -> str:
    """A new account's token, made through the session web (it has no limit)."""
    email = f"limited-{uuid.uuid4().hex[:8]}@{domain}"
    assert web.register(email).status_code == 201
    return web.token(email)


def _log_count(webs: list[Web], event: str) -> int:
    return sum(
        1 for web in webs for record in json_lines(web.logs()) if record.get("event") == event
    )


def test_the_limit_holds_across_both_web_containers(limited: list[Web], domain: str) -> None:
    started = time.monotonic()
    statuses = _burst(_clients(limited), domain, 2 * LIMIT)
    elapsed = time.monotonic() - started

    allowed = statuses[(0, 201)] + statuses[(1, 201)]
    refilled = int(elapsed / REFILL_SECONDS)
    assert LIMIT <= allowed <= LIMIT + refilled, (statuses, f"{elapsed:.1f}s")
    # Each web served some and refused some: the bucket is one for both.
    for which in (0, 1):
        assert statuses[(which, 201)], statuses
        assert statuses[(which, 429)], statuses
    assert set(statuses) <= {(0, 201), (1, 201), (0, 429), (1, 429)}, statuses


def test_without_redis_the_web_serves_everything_and_recovers(
    stack: Stack, limited: list[Web], web: WebClient, domain: str
) -> None:
    assert stack.redis is not None
    assert stack.web is not None
    clients = _clients(limited)
    staff_email = f"staff-{uuid.uuid4().hex[:8]}@{domain}"
    stack.web.create_staff(staff_email, PASSWORD)
    staff = web.token(staff_email, PASSWORD)
    # The stats cache lives in the same Redis as the limiter's buckets.
    assert web.call("GET", "/api/stats", token=staff).status_code == 200
    assert stack.redis.client().keys("*courier:stats:v1:*"), "the stats cache is not in Redis"
    before = _user_token(web, domain)
    unavailable = _log_count(limited, "ratelimit.redis_unavailable")

    stack.redis.docker_stop()
    try:
        started = time.monotonic()
        statuses = _burst(clients, domain, 3 * LIMIT, token=before)
        stats = [client.call("GET", "/api/stats", token=staff) for client in [web, *clients]]
        outage_s = time.monotonic() - started
    finally:
        stack.redis.docker_start()

    assert statuses == {(0, 201): 3 * LIMIT // 2, (1, 201): 3 * LIMIT // 2}, statuses
    assert [response.status_code for response in stats] == [200, 200, 200]
    assert outage_s < 3 * LIMIT, f"requests were slow without Redis: {outage_s:.1f}s"
    assert _log_count(limited, "ratelimit.redis_unavailable") > unavailable

    # Back: every process that failed open says so once a request makes it ask Redis again.
    poker = _user_token(web, domain)

    def every_process_back() -> bool:
        _burst(clients, domain, 2, token=poker)
        back = _log_count(limited, "ratelimit.redis_back")
        return back >= _log_count(limited, "ratelimit.redis_unavailable")

    wait_until(every_process_back, timeout=60, what="every web process to use Redis again")
    started = time.monotonic()
    statuses = _burst(clients, domain, 2 * LIMIT, token=_user_token(web, domain))
    elapsed = time.monotonic() - started
    allowed = statuses[(0, 201)] + statuses[(1, 201)]
    assert LIMIT <= allowed <= LIMIT + int(elapsed / REFILL_SECONDS), statuses
