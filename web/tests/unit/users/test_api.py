from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client
from shared_contracts import decode

from courier_web.outbox.models import OutboxMessage
from courier_web.outbox.publishing import wire_message
from courier_web.users.models import User
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def post_user(client: Client, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/users", data, content_type="application/json", headers=headers)


def error_fields(response: Any) -> dict[str, list[str]]:
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"]
    assert body["error"]["message"]
    fields: dict[str, list[str]] = body["error"].get("fields", {})
    return fields


def test_post_creates_a_user_and_never_returns_the_password(client: Client) -> None:
    response = post_user(
        client, {"email": "ada@example.com", "password": STRONG_PASSWORD, "display_name": "Ada"}
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "display_name", "date_joined", "newsletter_opt_in"}
    assert body["email"] == "ada@example.com"
    assert body["display_name"] == "Ada"
    assert STRONG_PASSWORD not in response.content.decode()
    assert User.objects.filter(pk=body["id"]).exists()


def test_display_name_is_optional(client: Client) -> None:
    response = post_user(client, {"email": "ada@example.com", "password": STRONG_PASSWORD})

    assert response.status_code == 201
    assert response.json()["display_name"] == ""


def test_duplicate_email_in_another_case_is_409(client: Client) -> None:
    post_user(client, {"email": "ada@example.com", "password": STRONG_PASSWORD})

    response = post_user(client, {"email": "ADA@example.com", "password": STRONG_PASSWORD})

    assert response.status_code == 409
    assert "email" in error_fields(response)
    assert OutboxMessage.objects.filter(event_type="user.registered.v1").count() == 1


def test_an_invalid_email_is_422_naming_the_field(client: Client) -> None:
    response = post_user(client, {"email": "not-an-email"})

    assert response.status_code == 422
    assert "email" in error_fields(response)


def test_a_weak_password_is_422_naming_the_field_without_echoing_it(client: Client) -> None:
    response = post_user(client, {"email": "ada@example.com", "password": "12345678"})

    assert response.status_code == 422
    assert set(error_fields(response)) == {"password"}
    assert "12345678" not in response.content.decode()


def test_an_unknown_field_is_422(client: Client) -> None:
    response = post_user(
        client, {"email": "ada@example.com", "password": STRONG_PASSWORD, "is_staff": True}
    )

    assert response.status_code == 422
    assert "is_staff" in error_fields(response)
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"email": "ada@example.com",', "application/json"),
        ("[1, 2]", "application/json"),
        ("email=ada@example.com", "application/x-www-form-urlencoded"),
        ('{"email": "ada@example.com"}', "text/plain"),
    ],
    ids=["malformed-json", "not-an-object", "form-encoded", "text-plain"],
)
def test_a_body_that_is_not_a_json_object_is_400(
    client: Client, body: str, content_type: str
) -> None:
    response = client.post("/api/users", body, content_type=content_type)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    error_fields(response)


def test_an_empty_body_is_422(client: Client) -> None:
    response = client.post("/api/users", "", content_type="application/json")

    assert response.status_code == 422
    assert "body" in error_fields(response)


def bearer(client: Client, email: str) -> dict[str, str]:
    response = client.post(
        "/api/tokens",
        json.dumps({"email": email, "password": STRONG_PASSWORD}),
        content_type="application/json",
    )
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_get_returns_the_user_to_themselves(client: Client) -> None:
    created = post_user(client, {"email": "ada@example.com", "password": STRONG_PASSWORD}).json()

    response = client.get(f"/api/users/{created['id']}", headers=bearer(client, "ada@example.com"))

    assert response.status_code == 200
    assert response.json() == created


def test_get_an_unknown_user_is_404_json(client: Client) -> None:
    post_user(client, {"email": "ada@example.com", "password": STRONG_PASSWORD})

    response = client.get("/api/users/999999", headers=bearer(client, "ada@example.com"))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_callers_request_id_is_echoed_and_becomes_the_correlation_id(
    client: Client,
) -> None:
    response = post_user(
        client,
        {"email": "ada@example.com", "password": STRONG_PASSWORD},
        **{"X-Request-ID": "checkout-7f3a.1"},
    )

    assert response.status_code == 201
    assert response["X-Request-ID"] == "checkout-7f3a.1"
    row = OutboxMessage.objects.get(event_type="user.registered.v1")
    wire = wire_message(row)
    assert decode(wire.body, wire.headers).correlation_id == "checkout-7f3a.1"
    assert wire.headers["x-courier-correlation-id"] == "checkout-7f3a.1"


@pytest.mark.parametrize("incoming", [None, "", "has spaces", "x" * 129, "semi;colon", "new\u00e9"])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_fresh_one(
    client: Client, incoming: str | None
) -> None:
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    response = post_user(
        client, {"email": "ada@example.com", "password": STRONG_PASSWORD}, **headers
    )

    assert response.status_code == 201
    generated = response["X-Request-ID"]
    assert generated != incoming
    assert len(generated) == 32
    int(generated, 16)
    # Every event of the request (the registration and its audit trail) carries it.
    assert set(OutboxMessage.objects.values_list("correlation_id", flat=True)) == {generated}


def test_error_responses_carry_a_request_id_too(client: Client) -> None:
    response = client.get("/api/users/999999", headers={"X-Request-ID": "lost-1"})

    assert response["X-Request-ID"] == "lost-1"


def test_openapi_document_is_served(client: Client) -> None:
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    assert "/api/users" in response.json()["paths"]
    assert client.get("/api/docs").status_code == 200


@pytest.mark.parametrize("field", ["display_name"])
def test_a_nul_character_is_a_422_naming_the_field(client: Client, field: str) -> None:
    # Found by the end-to-end fuzz run: PostgreSQL text cannot hold NUL, which was a 500 there.
    body = {"email": "nul@example.com", "password": STRONG_PASSWORD, field: "A\x00da"}

    response = post_user(client, body)

    assert response.status_code == 422
    assert field in error_fields(response)
    assert "\x00" not in response.content.decode()
