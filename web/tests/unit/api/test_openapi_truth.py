"""The OpenAPI document lists every answer the stack may give, not only the routers' own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from courier_web.api.openapi import add_common_responses

WRITE_METHODS = {"post", "put", "patch", "delete"}


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key twice in one object: {keys}"
    return dict(pairs)


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    # ninja keys responses by int, the hooks by str: both in one object would be
    # two "400" keys in the JSON, which a parser silently merges.
    body: dict[str, Any] = json.loads(response.content, object_pairs_hook=_no_duplicate_keys)
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_documents_the_middleware_answers(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert len(operations) >= 5
    for path, method, operation in operations:
        statuses = set(operation["responses"])
        assert {"400", "413", "503"} <= statuses, (method, path, statuses)
        if method in WRITE_METHODS:
            assert "429" in statuses, (method, path)
            headers = operation["responses"]["429"]["headers"]
            assert headers["Retry-After"]["required"] is True
        if operation.get("parameters") or "requestBody" in operation:
            assert "422" in statuses, (method, path)
        if operation.get("security"):
            assert {"401", "403"} <= statuses, (method, path)
        for status, response in operation["responses"].items():
            assert response["headers"]["X-Request-ID"]["required"] is True, (method, path, status)


def test_a_router_description_of_a_status_is_kept() -> None:
    document = {
        "paths": {
            "/api/things/{id}": {
                "get": {
                    "parameters": [{"in": "path", "name": "id"}],
                    "responses": {"422": {"description": "ours"}},
                }
            }
        }
    }

    add_common_responses(document)

    responses = document["paths"]["/api/things/{id}"]["get"]["responses"]
    assert responses["422"]["description"] == "ours"
    assert "429" not in responses  # a read is never rate limited
    assert "401" not in responses  # no security: nothing to authenticate


def test_the_bearer_scheme_says_where_a_token_comes_from(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    bearer = [s for s in schemes.values() if s.get("scheme") == "bearer"]
    assert bearer
    assert all("POST /api/tokens" in scheme["description"] for scheme in bearer)
