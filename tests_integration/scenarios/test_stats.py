"""``GET /api/stats`` on the real server: staff only, served from the cache, true at once.

A web container of this test's own runs one gunicorn worker, so that every
read meets one cache: a stale answer after a registration or a deletion
through it would be seen. Then the same across containers: the stack's web
(two processes) and this one share the cache through Redis (``REDIS_URL``),
so a registration in one shows in the next read of the other. The staff
account is made as an operator makes one: ``courier-web createsuperuser
--noinput`` in the container.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ..support.clients import WebClient
from ..support.containers import Web
from ..support.stack import Stack

PASSWORD = "correct-horse-9"


@pytest.fixture(scope="module")
def one_process_web(stack: Stack) -> Iterator[tuple[Web, WebClient]]:
    env = {
        **stack.web_env(),
        "WEB_CONCURRENCY": "1",
        "WEB_MIGRATE_ON_START": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,web-stats",
    }
    container = Web(stack.images.web, stack.network, env, alias="web-stats")
    try:
        container.start()
        yield container, WebClient(container.base_url)
    finally:
        container.stop()


def stats(web: WebClient, token: str) -> dict[str, Any]:
    response = web.call("GET", "/api/stats", token=token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_registration_shows_in_the_very_next_read(
    one_process_web: tuple[Web, WebClient], domain: str
) -> None:
    container, web = one_process_web
    staff = f"staff-{uuid.uuid4().hex[:8]}@{domain}"
    container.create_staff(staff, PASSWORD)
    token = web.token(staff, PASSWORD)

    before = stats(web, token)
    cached = stats(web, token)
    assert web.register(f"ada@{domain}").status_code == 201
    after = stats(web, token)

    assert cached == before
    assert after["users"] == before["users"] + 1
    days = after["signups_per_day"]
    assert len(days) == 30
    assert days[-1]["date"] == datetime.now(UTC).date().isoformat()
    assert days[-1]["count"] == before["signups_per_day"][-1]["count"] + 1
    assert [d["count"] for d in days[:-1]] == [d["count"] for d in before["signups_per_day"][:-1]]


def test_a_deletion_shows_in_the_very_next_read(
    one_process_web: tuple[Web, WebClient], domain: str
) -> None:
    container, web = one_process_web
    staff = f"staff-{uuid.uuid4().hex[:8]}@{domain}"
    container.create_staff(staff, PASSWORD)
    staff_token = web.token(staff, PASSWORD)
    created = web.register(f"leaving@{domain}")
    assert created.status_code == 201, created.text
    before = stats(web, staff_token)

    gone = web.call("DELETE", f"/api/users/{created.json()['id']}", token=staff_token)

    assert gone.status_code == 204, gone.text
    assert stats(web, staff_token)["users"] == before["users"] - 1


def test_a_registration_in_one_container_shows_in_the_next_read_of_another(
    stack: Stack, web: WebClient, one_process_web: tuple[Web, WebClient], domain: str
) -> None:
    assert stack.redis is not None, (
        "the stack runs its web containers with REDIS_URL: without a shared cache each "
        "process keeps its own stats for up to STATS_CACHE_SECONDS"
    )
    container, reader = one_process_web
    staff = f"staff-{uuid.uuid4().hex[:8]}@{domain}"
    container.create_staff(staff, PASSWORD)
    token = reader.token(staff, PASSWORD)
    before = stats(reader, token)

    registered = [web.register(f"user{n}@{domain}").status_code for n in range(3)]
    after = stats(reader, token)

    assert registered == [201, 201, 201]
    assert after["users"] == before["users"] + 3
