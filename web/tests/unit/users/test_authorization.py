"""Nobody reads what is not theirs: a user's data for that user or staff; staff-only endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from courier_web.users.models import ApiToken, Profile, User
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def call(client: Client, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, str) else ("" if body is None else json.dumps(body))
    return getattr(client, method)(path, data, content_type="application/json", headers=headers)


def account(client: Client, email: str, *, staff: bool = False) -> tuple[int, str]:
    """A registered user's id and a bearer token of theirs."""
    credentials = {"email": email, "password": STRONG_PASSWORD}
    user_id = int(call(client, "post", "/api/users", credentials).json()["id"])
    if staff:
        user = User.objects.get(pk=user_id)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user_id, call(client, "post", "/api/tokens", credentials).json()["token"]


@pytest.fixture
def ada(client: Client) -> tuple[int, str]:
    return account(client, "ada@example.com")


@pytest.fixture
def mallory(client: Client) -> tuple[int, str]:
    return account(client, "mallory@example.com")


@pytest.fixture
def staff(client: Client) -> tuple[int, str]:
    return account(client, "staff@example.com", staff=True)


USER_OPERATIONS = [("get", None), ("patch", {"display_name": "pwned"}), ("delete", None)]


@pytest.mark.parametrize(("method", "body"), USER_OPERATIONS)
def test_another_users_id_answers_exactly_as_a_missing_one(
    client: Client, ada: tuple[int, str], mallory: tuple[int, str], method: str, body: Any
) -> None:
    _, mallory_token = mallory

    theirs = call(client, method, f"/api/users/{ada[0]}", body, mallory_token)
    missing = call(client, method, "/api/users/999999", body, mallory_token)

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert "ada@example.com" not in theirs.content.decode()
    ada_now = User.objects.get(pk=ada[0])
    assert ada_now.display_name == ""


@pytest.mark.parametrize(("method", "body"), USER_OPERATIONS)
def test_anonymous_callers_are_401(
    client: Client, ada: tuple[int, str], method: str, body: Any
) -> None:
    response = call(client, method, f"/api/users/{ada[0]}", body)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_user_reads_themselves_and_staff_read_anyone(
    client: Client, ada: tuple[int, str], staff: tuple[int, str]
) -> None:
    mine = call(client, "get", f"/api/users/{ada[0]}", token=ada[1])
    as_staff = call(client, "get", f"/api/users/{ada[0]}", token=staff[1])

    assert mine.status_code == as_staff.status_code == 200
    assert mine.json() == as_staff.json()
    assert mine.json()["email"] == "ada@example.com"


def test_a_user_deletes_their_account_with_its_profile_and_tokens(
    client: Client, ada: tuple[int, str]
) -> None:
    user_id, token = ada

    response = call(client, "delete", f"/api/users/{user_id}", token=token)

    assert response.status_code == 204
    assert response.content == b""
    assert not User.objects.filter(pk=user_id).exists()
    assert not Profile.objects.filter(user_id=user_id).exists()
    assert not ApiToken.objects.filter(user_id=user_id).exists()
    assert call(client, "get", f"/api/users/{user_id}", token=token).status_code == 401


def test_staff_delete_anyone_and_a_missing_id_is_404(
    client: Client, ada: tuple[int, str], staff: tuple[int, str]
) -> None:
    assert call(client, "delete", f"/api/users/{ada[0]}", token=staff[1]).status_code == 204
    assert call(client, "delete", f"/api/users/{ada[0]}", token=staff[1]).status_code == 404


STAFF_OPERATIONS = [
    ("get", "/api/stats", None),
    ("post", "/api/users/import", [{"email": "x@example.com"}]),
]


@pytest.mark.parametrize(("method", "path", "body"), STAFF_OPERATIONS)
def test_staff_endpoints_are_401_anonymous_and_403_for_other_users(
    client: Client, ada: tuple[int, str], method: str, path: str, body: Any
) -> None:
    anonymous = call(client, method, path, body)
    user = call(client, method, path, body, ada[1])

    assert anonymous.status_code == 401
    assert user.status_code == 403
    assert user.json()["error"] == {"code": "forbidden", "message": "staff only"}
    assert not User.objects.filter(email="x@example.com").exists()


def test_a_non_staff_user_is_refused_before_the_body_is_read(
    client: Client, ada: tuple[int, str]
) -> None:
    response = call(client, "post", "/api/users/import", '{"not": "an array"', ada[1])

    assert response.status_code == 403


def test_staff_with_a_session_reach_the_stats(client: Client, staff: tuple[int, str]) -> None:
    client.login(username="staff@example.com", password=STRONG_PASSWORD)

    assert client.get("/api/stats").status_code == 200


OPENAPI_CODES = {
    ("/api/users", "post"): {"201", "400", "409", "422"},
    ("/api/users/import", "post"): {"201", "400", "401", "403", "422"},
    ("/api/users/{user_id}", "get"): {"200", "401", "404"},
    ("/api/users/{user_id}", "patch"): {"200", "400", "401", "404", "422"},
    ("/api/users/{user_id}", "delete"): {"204", "401", "404"},
    ("/api/stats", "get"): {"200", "401", "403"},
}


def test_the_openapi_document_lists_the_codes_each_operation_answers(client: Client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]

    documented = {
        (path, method): set(paths[path][method]["responses"]) for path, method in OPENAPI_CODES
    }

    # The stack adds what it may answer to any operation (413, 429, 503...: api/openapi.py);
    # these are the operation's own, and its only success.
    for operation, codes in OPENAPI_CODES.items():
        assert codes <= documented[operation], operation
        successes = {code for code in documented[operation] if code.startswith("2")}
        assert successes == {code for code in codes if code.startswith("2")}, operation
