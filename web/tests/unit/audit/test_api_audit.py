"""Through the HTTP API: who changed what, in which request, and what a change costs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from courier_web.users.models import User
from tests.conftest import STRONG_PASSWORD
from tests.unit.audit.helpers import audit_envelopes, changes, forget_events

pytestmark = pytest.mark.django_db


def call(client: Client, method: str, path: str, body: Any = None, **headers: str) -> Any:
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method)(path, data, content_type="application/json", headers=headers)


def signed_up(client: Client, email: str = "ada@example.com") -> tuple[int, dict[str, str]]:
    created = call(client, "post", "/api/users", {"email": email, "password": STRONG_PASSWORD})
    assert created.status_code == 201, created.content
    issued = call(client, "post", "/api/tokens", {"email": email, "password": STRONG_PASSWORD})
    assert issued.status_code == 201, issued.content
    forget_events()
    return int(created.json()["id"]), {"Authorization": f"Bearer {issued.json()['token']}"}


def test_a_patch_is_audited_with_its_field_its_caller_and_its_request_id(client: Client) -> None:
    user_id, auth = signed_up(client)

    response = call(
        client,
        "patch",
        f"/api/users/{user_id}",
        {"display_name": "Ada L."},
        **auth,
        **{"X-Request-ID": "rename-42"},
    )

    assert response.status_code == 200, response.content
    (envelope,) = audit_envelopes()
    assert envelope.correlation_id == "rename-42"
    assert envelope.payload.model_dump() == {
        "entity": "user",
        "entity_id": str(user_id),
        "action": "updated",
        "version": 2,
        "changed_fields": ("display_name",),
        "actor_id": user_id,
        # Shared with the worker's read model, which lists it in reports.
        "values": {"display_name": "Ada L."},
    }


def test_staff_acting_on_a_user_is_the_actor(client: Client) -> None:
    user_id, _ = signed_up(client)
    staff_id, staff_auth = signed_up(client, "staff@example.com")
    staff = User.objects.get(pk=staff_id)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    forget_events()

    call(client, "patch", f"/api/users/{user_id}", {"display_name": "Ada L."}, **staff_auth)

    assert [(e.payload.entity_id, e.payload.actor_id) for e in audit_envelopes()] == [
        (str(user_id), staff_id)
    ]


def test_a_patch_that_changes_nothing_is_not_audited(client: Client) -> None:
    user_id, auth = signed_up(client)

    call(client, "patch", f"/api/users/{user_id}", {"display_name": ""}, **auth)  # as registered

    assert changes() == []


def test_deleting_an_account_audits_the_user_and_its_profile(client: Client) -> None:
    user_id, auth = signed_up(client)

    response = call(client, "delete", f"/api/users/{user_id}", **auth, **{"X-Request-ID": "bye-1"})

    assert response.status_code == 204, response.content
    assert sorted(changes()) == [
        ("profile", str(user_id), "deleted", 2, ()),
        ("user", str(user_id), "deleted", 2, ()),
    ]
    assert {(e.correlation_id, e.payload.actor_id) for e in audit_envelopes()} == {
        ("bye-1", user_id)
    }


def test_what_an_audited_patch_costs_in_statements(client: Client) -> None:
    user_id, auth = signed_up(client)

    with CaptureQueriesContext(connection) as queries:
        response = call(client, "patch", f"/api/users/{user_id}", {"display_name": "A"}, **auth)

    assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    writes = [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    # The token's user (one SELECT), then the user's UPDATE, the version and the event.
    assert [s.split()[0] for s in writes] == ["UPDATE", "INSERT", "INSERT"], statements
    assert "audit_entityversion" in writes[1]
    assert "outbox_outboxmessage" in writes[2]
