"""What a database error means: the database is away for now, or it is configured wrong.

One classification for every database user of the web service: the API
(``503`` with ``Retry-After`` instead of ``500``), ``/readyz``, the outbox
relay (back off and reconnect, or exit with a message) and any consumer that
stores what it receives (requeue, never dead-letter). A restart, failover,
pause or network cut of PostgreSQL is *unavailable*: it passes, so the caller
waits and tries again. A wrong password, an unknown database or role, a
missing table (migrations not applied) or a pooler refusing a startup
parameter is *misconfigured*: waiting will not fix it, so say so. Anything
else (an integrity error, a bad query) is neither, and is the caller's bug.

Connection failures carry no SQLSTATE (libpq reports them as text), so
those are told apart by the server's message; every other error by its
SQLSTATE (``psycopg.errors``).
"""

from __future__ import annotations

import enum

import psycopg
from django.db import utils as django_db

__all__ = [
    "DATABASE_ERRORS",
    "DatabaseFailure",
    "classify_database_error",
    "describe_database_error",
    "is_database_unavailable",
]

#: What to catch around database work: Django's wrappers and raw psycopg errors
#: (the relay's LISTEN connection is psycopg's own).
DATABASE_ERRORS: tuple[type[Exception], ...] = (django_db.Error, psycopg.Error)


class DatabaseFailure(enum.Enum):
    """What a database error says about the database."""

    UNAVAILABLE = "unavailable"  # away for now: wait and try again
    MISCONFIGURED = "misconfigured"  # will not pass by itself: tell the operator
    OTHER = "other"  # not about the database's availability (a bug, bad data)


# SQLSTATE classes and codes (PostgreSQL, appendix A).
_UNAVAILABLE_CLASSES = ("08", "53")  # connection exception; insufficient resources
_UNAVAILABLE_CODES = frozenset(
    {
        "57P01",  # admin_shutdown: a restart, a failover, pg_terminate_backend
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up, shutting down, in recovery
        "57014",  # query_canceled: statement_timeout while the server was stalled
        "25006",  # read_only_sql_transaction: writing to a demoted primary after a failover
    }
)
_MISCONFIGURED_CLASSES = ("28",)  # invalid authorization specification
_MISCONFIGURED_CODES = frozenset(
    {
        "3D000",  # invalid_catalog_name: no such database
        "3F000",  # invalid_schema_name
        "42P01",  # undefined_table: migrations not applied
        "42703",  # undefined_column: migrations behind the code
        "42883",  # undefined_function
        "42501",  # insufficient_privilege
    }
)
#: Connection-time refusals (no SQLSTATE): from PostgreSQL, libpq and PgBouncer.
_MISCONFIGURED_MESSAGES = (
    "password authentication failed",
    "authentication failed",
    "no pg_hba.conf entry",
    "does not exist",  # role "x" / database "x" does not exist
    "unsupported startup parameter",  # PgBouncer without ignore_startup_parameters
    "no such database",  # PgBouncer
    "no such user",  # PgBouncer
    "invalid connection option",
    "invalid dsn",
    "server does not support ssl",
    "no such table",  # SQLite: migrations not applied
    "no such column",  # SQLite
)


def classify_database_error(exc: BaseException) -> DatabaseFailure:
    """Whether ``exc`` means "the database is away", "it is configured wrong", or neither."""
    error = _psycopg_error(exc)
    sqlstate = getattr(error, "sqlstate", None) if error is not None else None
    if sqlstate:
        if sqlstate in _MISCONFIGURED_CODES or sqlstate.startswith(_MISCONFIGURED_CLASSES):
            return DatabaseFailure.MISCONFIGURED
        if sqlstate in _UNAVAILABLE_CODES or sqlstate.startswith(_UNAVAILABLE_CLASSES):
            return DatabaseFailure.UNAVAILABLE
        return DatabaseFailure.OTHER
    connection_level = (
        django_db.OperationalError,
        django_db.InterfaceError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
    if isinstance(exc, psycopg.ProgrammingError) and _looks_misconfigured(exc):
        return DatabaseFailure.MISCONFIGURED  # a bad connection string
    if not isinstance(exc, connection_level):
        return DatabaseFailure.OTHER
    if _looks_misconfigured(exc):
        return DatabaseFailure.MISCONFIGURED
    # "connection refused", "server closed the connection unexpectedly", "the
    # database system is shutting down", "timeout expired", "the connection is closed"...
    return DatabaseFailure.UNAVAILABLE


def is_database_unavailable(exc: BaseException) -> bool:
    """True for a database error that passes by itself (restart, failover, pause, network)."""
    return classify_database_error(exc) is DatabaseFailure.UNAVAILABLE


def describe_database_error(exc: BaseException) -> str:
    """A one-line, password-free description for logs: ``AdminShutdown: terminating ...``."""
    error = _psycopg_error(exc) or exc
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300]


def _psycopg_error(exc: BaseException) -> psycopg.Error | None:
    """The driver's own error: ``exc`` itself, or what Django wrapped (``__cause__``)."""
    current: BaseException | None = exc
    for _ in range(3):
        if isinstance(current, psycopg.Error):
            return current
        current = current.__cause__ if current is not None else None
    return None


def _looks_misconfigured(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(message in text for message in _MISCONFIGURED_MESSAGES)
