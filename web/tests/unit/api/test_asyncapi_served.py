"""The AsyncAPI document is served beside the OpenAPI one, as the committed file says."""

from __future__ import annotations

import json

from django.test import Client

from courier_web.api.asyncapi import ASYNCAPI_DOCUMENT


def test_the_committed_document_is_served_as_json(client: Client) -> None:
    response = client.get("/api/asyncapi.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["X-Request-ID"]
    document = json.loads(response.content)
    assert document == json.loads(ASYNCAPI_DOCUMENT.read_text())
    assert document["asyncapi"].startswith("3.")
    assert "user.registered.v1" in document["components"]["messages"]


def test_it_ships_in_the_package_beside_its_view() -> None:
    # The web image installs the package only: the document must live inside it.
    assert ASYNCAPI_DOCUMENT.parent.name == "api"
    assert ASYNCAPI_DOCUMENT.is_file()


def test_a_write_method_is_a_json_405_naming_the_allowed_ones(client: Client) -> None:
    response = client.post("/api/asyncapi.json", data="{}", content_type="application/json")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "method_not_allowed"
