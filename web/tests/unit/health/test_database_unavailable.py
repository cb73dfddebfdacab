"""While the database is away every endpoint that needs it answers 503, never 500.

The database "goes away" through Django's own query hook
(``connection.execute_wrapper``): every statement fails as PostgreSQL's do
during a restart (the real outage is in tests/component and tests_integration).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog
from django.db import connection
from django.db import utils as django_db
from django.test import Client
from django.urls import path
from psycopg import errors as pg_errors

from courier_web.api import unavailable
from courier_web.api.unavailable import DATABASE_RETRY_AFTER_SECONDS
from courier_web.config.urls import urlpatterns as real_urlpatterns
from courier_web.health.checks import override_check

pytestmark = pytest.mark.django_db


def restarting(*args: Any) -> Any:
    """Fail a statement as a restarting PostgreSQL does (psycopg's error, wrapped by Django)."""
    try:
        raise pg_errors.AdminShutdown("terminating connection due to administrator command")
    except pg_errors.AdminShutdown as driver_error:
        raise django_db.OperationalError(*driver_error.args) from driver_error


def duplicate(*args: Any) -> Any:
    raise django_db.IntegrityError("duplicate key value violates unique constraint")


@contextmanager
def database(fail: Callable[..., Any]) -> Iterator[None]:
    with connection.execute_wrapper(fail):
        yield


def plain_view(request: Any) -> Any:
    """A plain Django view (not the API) whose query fails."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    raise AssertionError("unreachable")


urlpatterns = [*real_urlpatterns, path("plain", plain_view)]
handler500 = "courier_web.api.errors.server_error_view"


def assert_unavailable(response: Any, request_id: str | None = None) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.json()["error"]["message"]
    assert response["X-Request-ID"] == (request_id or response["X-Request-ID"])


def register(client: Client, **headers: str) -> Any:
    body = {"email": "ada@example.com", "password": "correct-horse-battery-9"}
    return client.post(
        "/api/users", json.dumps(body), content_type="application/json", headers=headers
    )


def test_a_registration_while_the_database_restarts_is_a_503_with_retry_after() -> None:
    client = Client(raise_request_exception=False)
    with database(restarting):
        response = register(client, **{"X-Request-ID": "req-db-down"})

    assert_unavailable(response, "req-db-down")


def test_a_token_request_while_the_database_restarts_is_a_503() -> None:
    client = Client(raise_request_exception=False)
    body = json.dumps({"email": "ada@example.com", "password": "correct-horse-battery-9"})
    with database(restarting):
        response = client.post("/api/tokens", body, content_type="application/json")

    assert_unavailable(response)


@pytest.mark.urls(__name__)
def test_outside_the_api_too_a_database_away_is_a_503() -> None:
    client = Client(raise_request_exception=False)
    with database(restarting):
        response = client.get("/plain", headers={"X-Request-ID": "req-plain"})

    assert_unavailable(response, "req-plain")


def test_the_first_request_after_the_database_is_back_succeeds() -> None:
    client = Client(raise_request_exception=False)
    with database(restarting):
        assert register(client).status_code == 503

    assert register(client).status_code == 201


def test_an_error_that_is_not_about_availability_stays_a_500() -> None:
    client = Client(raise_request_exception=False)
    with database(duplicate):
        response = register(client)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"


def test_an_outage_is_logged_once_not_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unavailable, "_outage_log", unavailable._OutageLog(every=60))
    client = Client(raise_request_exception=False)
    with structlog.testing.capture_logs() as logs, database(restarting):
        for _ in range(5):
            assert register(client).status_code == 503

    warnings = [line for line in logs if line["event"] == "api.database_unavailable"]
    assert len(warnings) == 1
    assert warnings[0]["error"].startswith("AdminShutdown: terminating connection")
    assert not [line for line in logs if line["event"] == "api.unhandled_error"]


def test_readyz_names_the_database_and_healthz_stays_up() -> None:
    client = Client(raise_request_exception=False)
    with override_check("broker", lambda: None), database(restarting):
        ready = client.get("/readyz")
        alive = client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json()["failing"] == ["database"]
    assert ready.json()["checks"]["database"].startswith("error: AdminShutdown: terminating")
    assert ready.json()["checks"]["broker"] == "ok"
    assert alive.status_code == 200


def test_the_openapi_document_lists_the_503_on_every_operation() -> None:
    document = Client().get("/api/openapi.json").json()

    operations = [op for item in document["paths"].values() for op in item.values()]
    assert operations
    for operation in operations:
        assert "503" in operation["responses"], operation["operationId"]
        schema = operation["responses"]["503"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorOut"}
    assert "ErrorOut" in document["components"]["schemas"]
