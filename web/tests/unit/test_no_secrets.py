"""Passwords and tokens never appear in logs, events or error responses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from courier_web.outbox.models import OutboxMessage
from tests.conftest import CapturedLogs

pytestmark = pytest.mark.django_db

PASSWORD = "Sw0rdfish-Known-Secret-4711"


def send(client: Client, method: str, path: str, body: Any = None, **headers: str) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return getattr(client, method)(path, data, content_type="application/json", headers=headers)


def test_password_and_token_appear_nowhere(
    client: Client, captured_logs: CapturedLogs, settings: Any
) -> None:
    settings.API_RATE_LIMIT = "6/minute"
    responses = []
    created = send(client, "post", "/api/users", {"email": "ada@example.com", "password": PASSWORD})
    responses.append(created)
    user_id = created.json()["id"]
    # The same password again (409), in a bad body (422, 400), in a wrong log-in (401).
    responses.append(
        send(client, "post", "/api/users", {"email": "ADA@example.com", "password": PASSWORD})
    )
    responses.append(
        send(client, "post", "/api/users", {"email": "x", "password": PASSWORD, "extra": PASSWORD})
    )
    responses.append(send(client, "post", "/api/users", '{"password": "' + PASSWORD + '"'))
    responses.append(
        send(
            client, "post", "/api/tokens", {"email": "ada@example.com", "password": PASSWORD + "x"}
        )
    )
    issued = send(client, "post", "/api/tokens", {"email": "ada@example.com", "password": PASSWORD})
    token = issued.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    responses.append(send(client, "patch", f"/api/users/{user_id}", {"display_name": "A"}, **auth))
    responses.append(send(client, "patch", f"/api/users/{user_id}", {"token": token}, **auth))
    responses.append(
        send(client, "patch", f"/api/users/{user_id + 1}", {"display_name": "B"}, **auth)
    )
    responses.append(
        client.get(f"/api/users/{user_id}?token={token}&password={PASSWORD}", headers=auth)
    )
    # Over the rate limit (this address's 7th anonymous write).
    responses.append(
        send(client, "post", "/api/tokens", {"email": "a@example.com", "password": PASSWORD})
    )

    statuses = [r.status_code for r in responses]
    assert statuses == [201, 409, 422, 400, 401, 200, 422, 404, 200, 429], statuses
    for response in responses:
        text = response.content.decode()
        assert PASSWORD not in text
        assert token not in text
        assert token not in str(response.headers)
    assert captured_logs.events("http.request")
    assert PASSWORD not in captured_logs.text
    assert token not in captured_logs.text
    rows = OutboxMessage.objects.all()
    assert rows  # the registration's event at least
    stored = "".join(
        row.body + json.dumps(row.headers) + json.dumps(row.properties) for row in rows
    )
    assert PASSWORD not in stored
    assert token not in stored
    assert "pbkdf2" not in stored.lower()
    assert "md5$" not in stored.lower()
