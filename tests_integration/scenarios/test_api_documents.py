"""The deployed web serves both documents of its interfaces: OpenAPI and AsyncAPI.

The AsyncAPI document is a committed file in the web's package: this proves
the image ships it, and that it is the one in the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..support.clients import WebClient

COMMITTED = Path(__file__).resolve().parents[2] / "web/src/courier_web/api/asyncapi.json"


def test_the_asyncapi_document_is_served_as_committed(web: WebClient) -> None:
    response = web.get("/api/asyncapi.json", headers={"X-Request-ID": "docs-asyncapi"})

    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["X-Request-ID"] == "docs-asyncapi"
    assert response.json() == json.loads(COMMITTED.read_text())


def test_the_openapi_document_declares_the_bearer_scheme(web: WebClient) -> None:
    response = web.get("/api/openapi.json")

    assert response.status_code == 200
    schemes = response.json()["components"]["securitySchemes"]
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values())
