"""Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE: a JSON 413 with X-Request-ID, chunked too."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.test import Client
from django.test.client import ClientHandler

from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def call_wsgi(environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Serve a raw WSGI environ through the full stack (the test client always sets a length)."""
    response = ClientHandler()(environ)
    return response.status_code, dict(response.headers), response.content


def chunked_environ(body: bytes) -> dict[str, Any]:
    """What gunicorn hands Django for ``Transfer-Encoding: chunked``: no CONTENT_LENGTH."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/users",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_X_REQUEST_ID": "chunked-1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }


def test_a_declared_oversized_body_is_a_json_413(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post(
        "/api/users",
        json.dumps({"email": "a@example.com", "password": "x" * 2000}),
        content_type="application/json",
        headers={"X-Request-ID": "big-1"},
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert response["X-Request-ID"] == "big-1"


def test_an_oversized_chunked_body_is_a_json_413(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    status, headers, body = call_wsgi(chunked_environ(b"{" + b" " * 5000 + b"}"))

    assert status == 413
    assert json.loads(body)["error"]["code"] == "too_large"
    assert headers["X-Request-ID"] == "chunked-1"


def test_a_small_chunked_body_is_read_and_served(settings: Any) -> None:
    payload = json.dumps({"email": "chunky@example.com", "password": STRONG_PASSWORD}).encode()

    status, _, body = call_wsgi(chunked_environ(payload))

    assert status == 201, body
    assert json.loads(body)["email"] == "chunky@example.com"
