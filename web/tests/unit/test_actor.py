"""The acting user: set when an API call authenticates, gone when its request ends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models.signals import post_delete, post_save
from django.test import Client

from courier_web.actor import bound_actor, current_actor_id, reset_actor, set_actor
from courier_web.users.models import User
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def actors_seen() -> Iterator[list[int | None]]:
    """The actor at every save of a user during the test."""
    seen: list[int | None] = []

    def record(sender: Any, **kwargs: Any) -> None:
        seen.append(current_actor_id())

    post_save.connect(record, sender=User, dispatch_uid="test.actor")
    yield seen
    post_save.disconnect(sender=User, dispatch_uid="test.actor")


def token_of(client: Client, email: str) -> tuple[int, str]:
    body = {"email": email, "password": STRONG_PASSWORD}
    user_id = client.post("/api/users", json.dumps(body), content_type="application/json")
    token = client.post("/api/tokens", json.dumps(body), content_type="application/json")
    return int(user_id.json()["id"]), str(token.json()["token"])


def test_bound_and_set_actors_nest_and_reset() -> None:
    assert current_actor_id() is None
    with bound_actor(7):
        token = set_actor(8)
        assert current_actor_id() == 8
        reset_actor(token)
        assert current_actor_id() == 7
    assert current_actor_id() is None


def test_a_token_makes_its_user_the_actor_of_the_request_only(
    client: Client, actors_seen: list[int | None]
) -> None:
    user_id, token = token_of(client, "ada@example.com")
    actors_seen.clear()

    client.patch(
        f"/api/users/{user_id}",
        json.dumps({"display_name": "Ada"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert actors_seen == [user_id]
    assert current_actor_id() is None  # forgotten when the request ended


def test_anonymous_requests_have_no_actor_even_after_an_authenticated_one(
    client: Client, actors_seen: list[int | None]
) -> None:
    _, token = token_of(client, "ada@example.com")
    client.get("/api/stats", headers={"Authorization": f"Bearer {token}"})  # a 403
    actors_seen.clear()

    token_of(client, "grace@example.com")

    assert actors_seen == [None]


def test_the_actor_is_forgotten_when_the_view_fails(client: Client) -> None:
    user_id, token = token_of(client, "ada@example.com")
    failing = Client(raise_request_exception=False)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "courier_web.users.api.user_update",
            lambda **_: (_ for _ in ()).throw(RuntimeError("a bug")),
        )
        response = failing.patch(
            f"/api/users/{user_id}",
            json.dumps({"display_name": "Ada"}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    assert response.status_code == 500
    assert current_actor_id() is None


def test_staff_deleting_in_the_admin_are_the_actor(client: Client) -> None:
    ada = User.objects.create_user("ada@example.com")
    staff = User.objects.create_superuser("staff@example.com", STRONG_PASSWORD)
    client.force_login(staff)
    seen: list[int | None] = []

    def record(sender: Any, **kwargs: Any) -> None:
        seen.append(current_actor_id())

    post_delete.connect(record, sender=User, dispatch_uid="test.admin_actor")
    try:
        response = client.post(f"/admin/users/user/{ada.pk}/delete/", {"post": "yes"})
    finally:
        post_delete.disconnect(sender=User, dispatch_uid="test.admin_actor")

    assert response.status_code == 302, response.content[:300]
    assert seen == [staff.pk]
    assert current_actor_id() is None
