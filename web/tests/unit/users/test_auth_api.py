"""Tokens (POST /api/tokens) and who may change a user (PATCH /api/users/{id})."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from courier_web.users.models import ApiToken, User
from courier_web.users.tokens import token_hash
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def register(client: Client, email: str) -> int:
    response = post(client, "/api/users", {"email": email, "password": STRONG_PASSWORD})
    assert response.status_code == 201
    return int(response.json()["id"])


def issue_token(client: Client, email: str, password: str = STRONG_PASSWORD) -> Any:
    return post(client, "/api/tokens", {"email": email, "password": password})


def patch(client: Client, user_id: int, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.patch(
        f"/api/users/{user_id}", json.dumps(body), content_type="application/json", headers=headers
    )


def test_a_token_is_issued_for_good_credentials_and_only_its_hash_is_stored(
    client: Client,
) -> None:
    register(client, "ada@example.com")

    response = issue_token(client, "ADA@example.com")

    assert response.status_code == 201
    token = response.json()["token"]
    assert token.startswith("cwt_")
    assert len(token) > 40
    stored = ApiToken.objects.get()
    assert stored.key_hash == token_hash(token)
    assert token not in stored.key_hash


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong-password-1"), ("nobody@example.com", STRONG_PASSWORD)],
)
def test_wrong_credentials_get_one_generic_401(client: Client, email: str, password: str) -> None:
    register(client, "ada@example.com")

    response = issue_token(client, email, password)

    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "unauthenticated",
        "message": "invalid email or password",
    }
    assert password not in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_user_changes_their_display_name_with_their_token(client: Client) -> None:
    user_id = register(client, "ada@example.com")
    token = issue_token(client, "ada@example.com").json()["token"]

    response = patch(client, user_id, {"display_name": "  Ada L.  "}, token)

    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada L."
    assert User.objects.get(pk=user_id).display_name == "Ada L."


def test_anonymous_patch_is_401_with_www_authenticate(client: Client) -> None:
    user_id = register(client, "ada@example.com")

    response = patch(client, user_id, {"display_name": "Mallory"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["X-Request-ID"]


def test_an_unknown_token_is_401(client: Client) -> None:
    user_id = register(client, "ada@example.com")

    response = patch(client, user_id, {"display_name": "Mallory"}, token="cwt_forged")

    assert response.status_code == 401


def test_another_user_gets_the_404_of_a_missing_id(client: Client) -> None:
    ada = register(client, "ada@example.com")
    register(client, "mallory@example.com")
    token = issue_token(client, "mallory@example.com").json()["token"]

    response = patch(client, ada, {"display_name": "pwned"}, token)
    missing = patch(client, 999_999, {"display_name": "pwned"}, token)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert missing.status_code == 404
    assert User.objects.get(pk=ada).display_name == ""


def test_staff_may_change_anyone_with_a_session(client: Client) -> None:
    ada = register(client, "ada@example.com")
    User.objects.create_user("admin@example.com", STRONG_PASSWORD, is_staff=True)
    staff_client = Client(enforce_csrf_checks=True)
    staff_client.login(username="admin@example.com", password=STRONG_PASSWORD)
    csrf = "c" * 32  # a CSRF secret, as a page would have set it as a cookie
    staff_client.cookies["csrftoken"] = csrf

    without_csrf = staff_client.patch(
        f"/api/users/{ada}", json.dumps({"display_name": "x"}), content_type="application/json"
    )
    response = staff_client.patch(
        f"/api/users/{ada}",
        json.dumps({"display_name": "Countess"}),
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )

    assert without_csrf.status_code == 403
    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == "Countess"


def test_a_user_may_patch_themselves_with_a_session(client: Client) -> None:
    ada = register(client, "ada@example.com")
    client.login(username="ada@example.com", password=STRONG_PASSWORD)

    response = patch(client, ada, {"display_name": "Ada"})

    assert response.status_code == 200


def test_unknown_fields_are_422(client: Client) -> None:
    user_id = register(client, "ada@example.com")
    token = issue_token(client, "ada@example.com").json()["token"]

    response = patch(client, user_id, {"display_name": "Ada", "is_staff": True}, token)

    assert response.status_code == 422
    assert "is_staff" in response.json()["error"]["fields"]
    assert User.objects.get(pk=user_id).is_staff is False


def test_staff_patching_a_missing_user_is_404(client: Client) -> None:
    User.objects.create_user("admin@example.com", STRONG_PASSWORD, is_staff=True)
    token = issue_token(client, "admin@example.com").json()["token"]

    assert patch(client, 999, {"display_name": "x"}, token).status_code == 404


def test_a_token_of_a_deactivated_user_no_longer_works(client: Client) -> None:
    user_id = register(client, "ada@example.com")
    token = issue_token(client, "ada@example.com").json()["token"]
    user = User.objects.get(pk=user_id)
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert patch(client, user_id, {"display_name": "x"}, token).status_code == 401


def test_a_nul_character_is_a_422_not_a_database_error(client: Client) -> None:
    # Found by the end-to-end fuzz run: PostgreSQL text cannot hold NUL, which was a 500 there.
    user_id = register(client, "ada@example.com")
    token = issue_token(client, "ada@example.com").json()["token"]

    login = post(client, "/api/tokens", {"email": "ada@exa\x00mple.com", "password": "x"})
    renamed = patch(client, user_id, {"display_name": "A\x00da"}, token)

    assert login.status_code == 422
    assert "email" in login.json()["error"]["fields"]
    assert renamed.status_code == 422
    assert "display_name" in renamed.json()["error"]["fields"]
    assert User.objects.get(pk=user_id).display_name == ""
