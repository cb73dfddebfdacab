"""``POST /api/users/import`` and ``user_import``: many users, one event each, errors per row."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client
from shared_contracts import decode

from courier_web.outbox.models import OutboxMessage
from courier_web.outbox.publishing import wire_message
from courier_web.users import importing
from courier_web.users.importing import ImportRow, user_import
from courier_web.users.models import Profile, User
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_token(client: Client) -> str:
    User.objects.create_superuser("staff@example.com", STRONG_PASSWORD)
    body = json.dumps({"email": "staff@example.com", "password": STRONG_PASSWORD})
    return str(client.post("/api/tokens", body, content_type="application/json").json()["token"])


def import_users(client: Client, token: str, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        "/api/users/import",
        data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def registered_user_ids() -> list[int]:
    rows = OutboxMessage.objects.filter(event_type="user.registered.v1")
    return sorted(
        decode(wire_message(r).body, wire_message(r).headers).payload.user_id for r in rows
    )


def test_an_import_creates_each_user_with_one_registration_event(
    client: Client, staff_token: str
) -> None:
    staff_events = registered_user_ids()
    body = [{"email": "ada@example.com", "display_name": " Ada "}, {"email": "grace@Example.COM"}]

    response = import_users(client, staff_token, body)

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["errors"] == []
    assert [(c["row"], c["email"]) for c in answer["created"]] == [
        (0, "ada@example.com"),
        (1, "grace@example.com"),  # the domain is normalised, as at registration
    ]
    ids = [c["id"] for c in answer["created"]]
    users = User.objects.filter(pk__in=ids).order_by("pk")
    assert [u.display_name for u in users] == ["Ada", ""]
    assert all(not u.has_usable_password() for u in users)
    assert Profile.objects.filter(user_id__in=ids).count() == 2
    assert registered_user_ids() == sorted(staff_events + ids)


def test_bad_and_duplicate_rows_are_refused_by_index_and_the_rest_imported(
    client: Client, staff_token: str
) -> None:
    body = [
        {"email": "new@example.com"},
        {"email": "not-an-email"},
        {"email": "STAFF@example.com"},  # registered already, in another case
        {"email": "New@example.com"},  # earlier in this import
        {"email": "x" * 250 + "@example.com"},
    ]

    response = import_users(client, staff_token, body)

    assert response.status_code == 201
    answer = response.json()
    assert [c["row"] for c in answer["created"]] == [0]
    assert [(e["row"], e["code"], list(e["fields"])) for e in answer["errors"]] == [
        (1, "invalid", ["email"]),
        (2, "duplicate", ["email"]),
        (3, "duplicate", ["email"]),
        (4, "invalid", ["email"]),
    ]
    assert "not-an-email" not in response.content.decode()  # errors never echo input
    assert User.objects.filter(email__iexact="new@example.com").count() == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ([], 422, "body"),
        ([{"email": "a@example.com"}] * 1001, 422, "body"),
        ([{"email": "a@example.com", "password": "x"}], 422, "0.password"),
        ([{"display_name": "no email"}], 422, "0.email"),
        ({"email": "a@example.com"}, 400, None),
        ('[{"email": ', 400, None),
    ],
    ids=["empty", "over-1000", "unknown-field", "no-email", "an-object", "malformed"],
)
def test_a_malformed_import_is_refused_whole(
    client: Client, staff_token: str, body: Any, status: int, field: str | None
) -> None:
    before = User.objects.count()

    response = import_users(client, staff_token, body)

    assert response.status_code == status, response.content
    error = response.json()["error"]
    if field is not None:
        assert field in error["fields"], error
    assert User.objects.count() == before


def test_an_import_retries_when_a_registration_takes_an_email_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importing.evented_bulk_create
    attempts: list[int] = []

    def raced(model: Any, objs: Any, **kwargs: Any) -> Any:
        attempts.append(len(objs))
        if len(attempts) == 1:
            User.objects.create_user("ada@example.com")  # committed by someone else
            raise IntegrityError("UNIQUE constraint failed: users_user.email")
        return real(model, objs, **kwargs)

    monkeypatch.setattr(importing, "evented_bulk_create", raced)

    result = user_import(rows=[ImportRow("ada@example.com"), ImportRow("grace@example.com")])

    assert attempts == [2, 1]
    assert [(row, user.email) for row, user in result.created] == [(1, "grace@example.com")]
    assert [(r.row, r.code) for r in result.refused] == [(0, "duplicate")]


def test_the_service_refuses_more_than_the_maximum() -> None:
    rows = [ImportRow(f"u{n}@example.com") for n in range(importing.MAX_IMPORT_ROWS + 1)]

    with pytest.raises(importing.ValidationError):
        user_import(rows=rows)


def test_text_the_database_cannot_store_refuses_its_row_only(
    client: Client, staff_token: str
) -> None:
    # JSON may carry NUL, which PostgreSQL text cannot hold.
    body = (
        '[{"email": "a\\u0000b@example.com"}, {"email": "nul@example.com", "display_name": '
        '"A\\u0000da"}, {"email": "fine@example.com"}]'
    )

    response = import_users(client, staff_token, body)

    assert response.status_code == 201, response.content
    answer = response.json()
    assert [c["email"] for c in answer["created"]] == ["fine@example.com"]
    assert [(e["row"], list(e["fields"])) for e in answer["errors"]] == [
        (0, ["email"]),
        (1, ["display_name"]),
    ]


def test_the_service_refuses_unpaired_surrogates_by_row() -> None:
    # The API's schema refuses them already (422); code calling the service may not.
    result = user_import(rows=[ImportRow("half@example.com", "\ud9fc"), ImportRow("b@example.com")])

    assert [(r.row, r.fields) for r in result.refused] == [
        (0, {"display_name": ["must be valid Unicode text"]})
    ]
    assert [user.email for _, user in result.created] == ["b@example.com"]
