"""Which database errors mean "away for now", "configured wrong", or neither."""

from __future__ import annotations

import psycopg
import pytest
from django.db import utils as django_db
from psycopg import errors as pg_errors

from courier_web.health.database import (
    DatabaseFailure,
    classify_database_error,
    describe_database_error,
    is_database_unavailable,
)


def wrapped(driver_error: Exception, django_class: type[Exception]) -> Exception:
    """``driver_error`` as Django raises it (``wrap_database_errors``: the cause is kept)."""
    try:
        raise django_class(*driver_error.args) from driver_error
    except django_class as exc:
        return exc


@pytest.mark.parametrize(
    "error",
    [
        # A restart: the backend is terminated, then connections are refused.
        wrapped(pg_errors.AdminShutdown("terminating connection"), django_db.OperationalError),
        wrapped(
            psycopg.OperationalError(
                "connection failed: FATAL: the database system is shutting down"
            ),
            django_db.OperationalError,
        ),
        psycopg.OperationalError("connection failed: Connection refused"),
        wrapped(psycopg.OperationalError("the connection is closed"), django_db.OperationalError),
        wrapped(psycopg.InterfaceError("connection already closed"), django_db.InterfaceError),
        psycopg.OperationalError("connection timeout expired"),  # a paused server
        wrapped(pg_errors.QueryCanceled("statement timeout"), django_db.OperationalError),
        wrapped(pg_errors.ReadOnlySqlTransaction("read-only"), django_db.InternalError),  # failover
        wrapped(pg_errors.TooManyConnections("too many clients"), django_db.OperationalError),
        django_db.OperationalError("database is locked"),  # SQLite's writer lock
    ],
)
def test_outages_are_unavailable(error: Exception) -> None:
    assert classify_database_error(error) is DatabaseFailure.UNAVAILABLE
    assert is_database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError(
            'connection failed: FATAL:  password authentication failed for user "courier"'
        ),
        psycopg.OperationalError('connection failed: FATAL:  database "nope" does not exist'),
        psycopg.OperationalError('connection failed: FATAL:  role "nobody" does not exist'),
        psycopg.OperationalError("FATAL:  no pg_hba.conf entry for host"),
        psycopg.OperationalError("ERROR:  unsupported startup parameter: options"),  # PgBouncer
        wrapped(pg_errors.UndefinedTable("relation does not exist"), django_db.ProgrammingError),
        django_db.OperationalError("no such table: outbox_outboxmessage"),  # SQLite
        psycopg.ProgrammingError('invalid connection option "nope"'),
    ],
)
def test_refusals_for_good_are_misconfigured(error: Exception) -> None:
    assert classify_database_error(error) is DatabaseFailure.MISCONFIGURED
    assert not is_database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(pg_errors.UniqueViolation("duplicate key"), django_db.IntegrityError),
        wrapped(pg_errors.SyntaxError("syntax error"), django_db.ProgrammingError),
        django_db.IntegrityError("UNIQUE constraint failed"),
        ValueError("not a database error"),
    ],
)
def test_everything_else_is_the_callers_own(error: Exception) -> None:
    assert classify_database_error(error) is DatabaseFailure.OTHER


def test_the_description_names_the_drivers_error_on_one_line() -> None:
    error = wrapped(
        pg_errors.AdminShutdown("terminating\n  connection"), django_db.OperationalError
    )

    assert describe_database_error(error) == "AdminShutdown: terminating connection"
