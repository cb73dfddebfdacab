"""One ``http.request`` line per request: route, status, timing, ids; no secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.conftest import STRONG_PASSWORD, CapturedLogs

pytestmark = pytest.mark.django_db


def test_one_line_per_request_with_the_route_template(
    client: Client, captured_logs: CapturedLogs
) -> None:
    client.get("/api/users/42?token=sekrit", headers={"X-Request-ID": "log-1"})

    lines = captured_logs.events("http.request")
    assert len(lines) == 1
    line = lines[0]
    assert line["logger"] == "courier_web.access"
    assert line["method"] == "GET"
    assert line["path"] == "/api/users/42"
    assert line["route"] == "/api/users/<user_id>"
    assert line["status"] == 401  # reading a user needs credentials
    assert line["request_id"] == "log-1"
    assert line["user_id"] is None
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")
    assert "sekrit" not in captured_logs.text


def test_unmatched_paths_have_no_route(client: Client, captured_logs: CapturedLogs) -> None:
    client.get("/nowhere")

    (line,) = captured_logs.events("http.request")
    assert line["route"] is None
    assert line["status"] == 404


def test_the_user_id_is_logged_once_known(client: Client, captured_logs: CapturedLogs) -> None:
    created = client.post(
        "/api/users",
        json.dumps({"email": "ada@example.com", "password": STRONG_PASSWORD}),
        content_type="application/json",
    ).json()
    token = client.post(
        "/api/tokens",
        json.dumps({"email": "ada@example.com", "password": STRONG_PASSWORD}),
        content_type="application/json",
    ).json()["token"]

    client.patch(
        f"/api/users/{created['id']}",
        json.dumps({"display_name": "Ada"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    patch_line = captured_logs.events("http.request")[-1]
    assert patch_line["method"] == "PATCH"
    assert patch_line["status"] == 200
    assert patch_line["user_id"] == created["id"]
    assert token not in captured_logs.text
    assert STRONG_PASSWORD not in captured_logs.text


def test_no_line_when_the_log_level_is_above_info(
    client: Client, captured_logs: CapturedLogs, settings: Any
) -> None:
    settings.LOG_LEVEL = "WARNING"  # read when the middleware is built, on the first request

    client.get("/healthz")

    assert captured_logs.events("http.request") == []
