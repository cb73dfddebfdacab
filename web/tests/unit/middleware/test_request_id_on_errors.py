"""Every response carries X-Request-ID, errors included, whoever produced them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import path

from courier_web.config.urls import urlpatterns as real_urlpatterns


def boom(request: Any) -> Any:
    raise RuntimeError("a bug")


urlpatterns = [*real_urlpatterns, path("boom", boom)]
handler500 = "courier_web.api.errors.server_error_view"
handler404 = "courier_web.api.errors.not_found_view"


def assert_json_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["X-Request-ID"]
    assert response.json()["error"]["code"] == code


def test_django_404_is_json_with_a_request_id(client: Client) -> None:
    response = client.get("/no/such/page", headers={"X-Request-ID": "req-404"})

    assert_json_error(response, 404, "not_found")
    assert response["X-Request-ID"] == "req-404"


def test_405_carries_the_request_id(client: Client) -> None:
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response["X-Request-ID"]


@pytest.mark.urls(__name__)
def test_an_unhandled_exception_is_a_json_500_with_the_request_id(settings: Any) -> None:
    client = Client(raise_request_exception=False)

    response = client.get("/boom", headers={"X-Request-ID": "req-500"})

    assert_json_error(response, 500, "internal_error")
    assert response["X-Request-ID"] == "req-500"
    assert "a bug" not in response.content.decode()


@pytest.mark.django_db
def test_api_errors_carry_the_request_id(client: Client) -> None:
    response = client.get("/api/users/999")

    assert_json_error(response, 401, "unauthenticated")


def test_a_malformed_request_id_is_replaced(client: Client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})

    assert response["X-Request-ID"] != "bad id with spaces"
    assert len(response["X-Request-ID"]) == 32
