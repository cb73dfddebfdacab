"""The relay's link to its database: lost, backing off, back; or misconfigured, and exit.

A database that is away (a restart, a failover, a pause, a network cut) is a
state the relay waits out: it drops its connections, backs off with jitter
(``OUTBOX_DB_BACKOFF_MAX`` at most) and tries again, logging once when the
database goes (``outbox.database_lost``, or ``outbox.database_unreachable``
when it never answered since the start) and once when it is back
(``outbox.database_back``, with how long it was away). A database that
refuses the relay for good (a wrong password, no such database, the outbox
table missing) is ``RelayMisconfigured``: the command exits saying what to fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from django.db import connection

from courier_web.health.database import (
    DatabaseFailure,
    classify_database_error,
    describe_database_error,
)
from courier_web.outbox.backoff import Backoff

__all__ = [
    "DatabaseLink",
    "RelayMisconfigured",
    "close_database_connection",
    "describe_database",
    "with_statement_timeout",
]

log = structlog.get_logger(__name__)

_MISSING_TABLE_HINT = "apply the web's migrations (`courier-web migrate`) against DATABASE_URL"
_REFUSED_HINT = (
    "check DATABASE_URL (user, password, database name) and the server's pg_hba.conf; "
    "through PgBouncer, see docs/outbox.md"
)


class RelayMisconfigured(Exception):
    """The database refuses the relay for a reason that waiting will not fix."""


def describe_database(settings_dict: dict[str, Any] | None = None) -> str:
    """Where the relay's database is, without its password: ``postgresql://user@host:5432/name``."""
    db = settings_dict if settings_dict is not None else connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user, host, port = db.get("USER") or "", db.get("HOST") or "", db.get("PORT") or 5432
    return f"postgresql://{user}@{host}:{port}/{db['NAME']}"


def close_database_connection() -> None:
    """Drop Django's connection (it is broken); the next query opens a new one."""
    try:
        connection.close()
    except Exception:  # closing a dead connection may fail too: it is gone either way
        log.debug("outbox.database_close_failed", exc_info=True)


def with_statement_timeout(options: dict[str, Any], seconds: float) -> dict[str, Any]:
    """``options`` (a database's OPTIONS) plus ``-c statement_timeout`` in its startup options."""
    if seconds <= 0:
        return options
    timeout = f"-c statement_timeout={round(seconds * 1000)}"
    existing = str(options.get("options", "")).strip()
    return {**options, "options": f"{existing} {timeout}".strip()}


class DatabaseLink:
    """Whether the relay's database answers, and how long to wait before trying again."""

    def __init__(
        self,
        backoff: Backoff,
        *,
        database: str,
        close: Callable[[], None] = close_database_connection,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff = backoff
        self.database = database
        self._close = close
        self._clock = clock
        #: None until the first statement answers or fails; then whether it answers.
        self.up: bool | None = None
        self.errors = 0
        self._down_since: float | None = None

    def failed(self, exc: BaseException) -> float:
        """Record a failure; returns the delay before the next attempt.

        Raises ``RelayMisconfigured`` when waiting will not help, and ``exc``
        itself when it is not about the database's availability (a bug).
        """
        failure = classify_database_error(exc)
        if failure is DatabaseFailure.OTHER:
            raise exc
        error = describe_database_error(exc)
        if failure is DatabaseFailure.MISCONFIGURED:
            hint = (
                _MISSING_TABLE_HINT if "does not exist" in error and "relation" in error else None
            )
            message = (
                f"the database at {self.database} refuses the relay: {error}; "
                f"{hint or _REFUSED_HINT}"
            )
            log.error("outbox.database_misconfigured", database=self.database, error=error)
            raise RelayMisconfigured(message) from exc
        self.errors += 1
        self._close()
        delay = self.backoff.next_delay()
        if self.up is None:
            log.error(
                "outbox.database_unreachable",
                database=self.database,
                error=error,
                note="waiting for it; pending rows are published once it answers",
            )
        elif self.up:
            log.warning("outbox.database_lost", database=self.database, error=error)
        if self.up is not False:
            self._down_since = self._clock()
        self.up = False
        return delay

    def succeeded(self) -> None:
        """A statement answered: the database is (back) up."""
        if self.up is False:
            down_for = self._clock() - (self._down_since or self._clock())
            log.info(
                "outbox.database_back",
                database=self.database,
                down_s=round(down_for, 2),
                failed_attempts=self.backoff.failures,
            )
        self.up = True
        self._down_since = None
        self.backoff.reset()
