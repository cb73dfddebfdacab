from __future__ import annotations

import pytest
from django.test import Client

from courier_web.health.checks import override_check


def broker_down() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


def broker_up() -> None:
    return None


def test_healthz_answers_without_touching_dependencies(client: Client) -> None:
    # No database marker: a database query here would fail the test.
    with override_check("broker", broker_down):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_readyz_is_200_when_database_and_broker_answer(client: Client) -> None:
    with override_check("broker", broker_up):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_it_is_down(client: Client) -> None:
    with override_check("broker", broker_down):
        response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error: ConnectionRefusedError")


def test_readyz_is_503_naming_the_database_when_it_is_down(client: Client) -> None:
    def database_down() -> None:
        raise OSError("could not connect to server")

    with override_check("broker", broker_up), override_check("database", database_down):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "error: OSError: could not connect to server",
        "broker": "ok",
    }
