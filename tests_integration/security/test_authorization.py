"""Nobody reads what is not theirs, on the real server.

A second user's token reads, changes and deletes neither the first user nor
anything staff-only: another user's id answers exactly as a missing one (so
iterating ids reveals nothing), the stats and the import are 403, and without
credentials everything is 401. Staff (made with ``createsuperuser``) may.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ..support.clients import WebClient
from ..support.stack import Stack

PASSWORD = "correct-horse-9"


def account(web: WebClient, email: str) -> tuple[int, str]:
    created = web.register(email, password=PASSWORD)
    assert created.status_code == 201, created.text
    return int(created.json()["id"]), web.token(email, PASSWORD)


@pytest.fixture
def two_users(web: WebClient, domain: str) -> tuple[tuple[int, str], tuple[int, str]]:
    return account(web, f"ada@{domain}"), account(web, f"mallory@{domain}")


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PATCH", {"display_name": "pwned"}), ("DELETE", None)]
)
def test_another_users_id_is_the_404_of_a_missing_one(
    web: WebClient, two_users: Any, method: str, body: Any
) -> None:
    (ada_id, ada_token), (_, mallory_token) = two_users

    theirs = web.call(method, f"/api/users/{ada_id}", token=mallory_token, json=body)
    missing = web.call(method, "/api/users/987654321", token=mallory_token, json=body)
    still_there = web.call("GET", f"/api/users/{ada_id}", token=ada_token)

    assert theirs.status_code == missing.status_code == 404, theirs.text
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert "ada@" not in theirs.text
    assert still_there.status_code == 200
    assert still_there.json()["display_name"] == ""


def test_iterating_ids_lists_no_one_elses_email(web: WebClient, two_users: Any) -> None:
    (ada_id, _), (mallory_id, mallory_token) = two_users

    answers = {
        user_id: web.call("GET", f"/api/users/{user_id}", token=mallory_token)
        for user_id in range(max(1, ada_id - 5), mallory_id + 1)
    }

    assert answers[mallory_id].status_code == 200
    assert {r.status_code for i, r in answers.items() if i != mallory_id} == {404}


def test_a_users_token_reads_no_stats_and_imports_nothing(
    web: WebClient, two_users: Any, domain: str
) -> None:
    _, (_, mallory_token) = two_users

    stats = web.call("GET", "/api/stats", token=mallory_token)
    imported = web.call(
        "POST", "/api/users/import", token=mallory_token, json=[{"email": f"x@{domain}"}]
    )

    assert stats.status_code == imported.status_code == 403
    assert stats.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/users/1"),
        ("PATCH", "/api/users/1"),
        ("DELETE", "/api/users/1"),
        ("GET", "/api/stats"),
        ("POST", "/api/users/import"),
    ],
)
def test_without_credentials_everything_is_401(web: WebClient, method: str, path: str) -> None:
    response = web.call(method, path, json={} if method in ("PATCH", "POST") else None)

    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_staff_read_anyone_and_users_delete_themselves(
    stack: Stack, web: WebClient, two_users: Any, domain: str
) -> None:
    assert stack.web is not None
    (ada_id, ada_token), _ = two_users
    staff = f"staff-{uuid.uuid4().hex[:8]}@{domain}"
    stack.web.create_staff(staff, PASSWORD)
    staff_token = web.token(staff, PASSWORD)

    read = web.call("GET", f"/api/users/{ada_id}", token=staff_token)
    stats = web.call("GET", "/api/stats", token=staff_token)
    deleted = web.call("DELETE", f"/api/users/{ada_id}", token=ada_token)
    afterwards = web.call("GET", f"/api/users/{ada_id}", token=staff_token)

    assert read.status_code == 200
    assert read.json()["email"] == f"ada@{domain}"
    assert stats.status_code == 200
    assert deleted.status_code == 204
    assert afterwards.status_code == 404
    assert web.call("GET", f"/api/users/{ada_id}", token=ada_token).status_code == 401
