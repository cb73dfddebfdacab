"""Security headers on every response; gzip only for large bodies."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from django.test import Client

from courier_web.middleware.security_headers import DOCS, LOCKED_DOWN


def test_api_responses_carry_the_security_headers(client: Client) -> None:
    response = client.get("/healthz")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == LOCKED_DOWN


def test_the_docs_page_may_load_its_own_assets(client: Client) -> None:
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == DOCS
    assert "script-src 'self'" in DOCS
    asset = client.get("/static/ninja/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_small_responses_are_not_compressed(client: Client) -> None:
    response = client.get("/healthz", headers={"Accept-Encoding": "gzip"})

    assert "Content-Encoding" not in response


def test_large_json_responses_are_gzipped(client: Client, settings: Any) -> None:
    response = client.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})

    assert response["Content-Encoding"] == "gzip"
    assert b'"openapi"' in gzip.decompress(response.content)
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_token_responses_are_never_compressed(client: Client, settings: Any) -> None:
    settings.GZIP_MIN_BYTES = 0
    response = client.post(
        "/api/tokens",
        '{"email": "nobody@example.com", "password": "whatever-it-is"}',
        content_type="application/json",
        headers={"Accept-Encoding": "gzip"},
    )

    assert response.status_code == 401
    assert "Content-Encoding" not in response
