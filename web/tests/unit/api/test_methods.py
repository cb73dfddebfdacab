"""A method an API path lacks is a JSON 405 that names the allowed ones."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.parametrize("method", ["TRACE", "PUT"])
def test_a_missing_method_is_a_json_405(client: Client, method: str) -> None:
    response = client.generic(method, "/api/users", headers={"X-Request-ID": "m-405"})

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["X-Request-ID"] == "m-405"
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert method in error["message"]


def test_a_declared_method_still_reaches_its_operation(client: Client) -> None:
    response = client.get("/api/stats")

    assert response.status_code == 401  # the operation's own answer, not a 405
