"""What each endpoint costs the database, statement by statement.

A receiver (or anything else) that adds a query to one of these requests
fails its test, and the diff names the statement: verb and table, in order.
Transaction bookkeeping (SAVEPOINT/RELEASE, which the test's own transaction
turns BEGIN/COMMIT into) is left out. When a new statement is intended,
update the list here, with a comment saying where it comes from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from courier_web.users.models import User
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

_TABLE = re.compile(
    r'^(UPDATE)\s+"(\w+)"|^(SELECT|INSERT|DELETE)\b.*?\b(?:FROM|INTO)\s+"(\w+)"', re.S
)
_BOOKKEEPING = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT")


def statements(captured: CaptureQueriesContext) -> list[str]:
    """Each statement as ``VERB table`` (the first table it names)."""
    shapes = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.startswith(_BOOKKEEPING):
            continue
        match = _TABLE.match(sql)
        shapes.append(" ".join(part for part in match.groups() if part) if match else sql[:60])
    return shapes


def send(client: Client, method: str, path: str, body: Any = None, **headers: str) -> Any:
    data = json.dumps(body) if body is not None else ""
    response = getattr(client, method)(path, data, content_type="application/json", headers=headers)
    assert response.status_code < 300, response.content
    return response


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ada(client: Client) -> tuple[int, dict[str, str]]:
    """A registered user and their bearer token header."""
    body = {"email": "ada@example.com", "password": STRONG_PASSWORD}
    user_id = send(client, "post", "/api/users", body).json()["id"]
    token = send(client, "post", "/api/tokens", body).json()["token"]
    return user_id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def staff(client: Client, ada: tuple[int, dict[str, str]]) -> dict[str, str]:
    user = User.objects.get(pk=ada[0])
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return ada[1]


def test_post_users(client: Client) -> None:
    with CaptureQueriesContext(connection) as captured:
        send(
            client, "post", "/api/users", {"email": "ada@example.com", "password": STRONG_PASSWORD}
        )

    assert statements(captured) == [
        "SELECT users_user",  # the duplicate email check
        "INSERT users_user",
        "INSERT users_profile",  # users.signals.create_profile
        "INSERT outbox_outboxmessage",  # entity.changed.v1 of the profile (audit)
        "INSERT outbox_outboxmessage",  # user.registered.v1
        "INSERT outbox_outboxmessage",  # entity.changed.v1 of the user (audit)
    ]


def test_patch_user(client: Client, ada: tuple[int, dict[str, str]]) -> None:
    user_id, auth = ada

    with CaptureQueriesContext(connection) as captured:
        send(client, "patch", f"/api/users/{user_id}", {"display_name": "Ada"}, **auth)

    assert statements(captured) == [
        "SELECT users_apitoken",  # the bearer token, with its user
        "UPDATE users_user",
        "INSERT audit_entityversion",  # the user's next audit version
        "INSERT outbox_outboxmessage",  # entity.changed.v1 (audit)
    ]


def test_get_user(client: Client, ada: tuple[int, dict[str, str]]) -> None:
    user_id, auth = ada

    with CaptureQueriesContext(connection) as captured:
        send(client, "get", f"/api/users/{user_id}", **auth)

    assert statements(captured) == ["SELECT users_apitoken"]  # the caller is the user read


def test_get_stats_computes_once_then_serves_from_the_cache(
    client: Client, staff: dict[str, str]
) -> None:
    with CaptureQueriesContext(connection) as first:
        send(client, "get", "/api/stats", **staff)
    with CaptureQueriesContext(connection) as burst:
        for _ in range(10):
            send(client, "get", "/api/stats", **staff)

    assert statements(first) == [
        "SELECT users_apitoken",
        "SELECT users_user",  # signups per day
        "SELECT users_user",  # the user count
    ]
    assert statements(burst) == ["SELECT users_apitoken"] * 10  # authentication only


@pytest.mark.parametrize("rows", [3, 30])
def test_import_costs_the_same_for_any_number_of_rows(
    client: Client, staff: dict[str, str], rows: int
) -> None:
    # 30 rows stay within one SQLite batch (999 variables); PostgreSQL has no such
    # limit (tests/component/test_import_postgres.py imports 1,000).
    body = [{"email": f"u{n}@example.com"} for n in range(rows)]

    with CaptureQueriesContext(connection) as captured:
        send(client, "post", "/api/users/import", body, **staff)

    assert statements(captured) == [
        "SELECT users_apitoken",
        "SELECT users_user",  # which emails are registered already
        "INSERT users_user",
        "INSERT outbox_outboxmessage",  # user.registered.v1 and the audit's, every row
        "INSERT users_profile",  # users.signals.create_profiles (post_bulk_create)
        "INSERT outbox_outboxmessage",  # the profiles' audit events
    ]
