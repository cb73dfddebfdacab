"""A database that is away never dead-letters an event: it is retried for as long as it takes.

The idempotency store (or a handler's own writes) fails as PostgreSQL does
during a restart, a failover or a pause; the real restarts are in
tests/component/test_store_outages.py and tests_integration.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from courier_worker import bootstrap
from courier_worker.retry import RetryPolicy, is_database_unavailable, is_transient
from psycopg import errors as pg_errors
from shared_contracts import Envelope, UserRegistered
from sqlalchemy import exc as sa_exc

from tests.fakes import FakeHandledEvents
from tests.unit.test_tasks import Fakes, deliver, fakes, sample

__all__ = ["fakes"]  # the fixture, shared with test_tasks


def sa_error(
    driver_error: Exception, kind: type[sa_exc.DBAPIError] = sa_exc.OperationalError
) -> Any:
    """``driver_error`` as SQLAlchemy raises it."""
    return kind("INSERT INTO handled_events ...", {}, driver_error)


@pytest.mark.parametrize(
    "error",
    [
        sa_error(pg_errors.AdminShutdown("terminating connection due to administrator command")),
        sa_error(psycopg.OperationalError("connection failed: Connection refused")),
        sa_error(psycopg.OperationalError("the database system is shutting down")),
        sa_error(psycopg.OperationalError("server closed the connection unexpectedly")),
        sa_error(psycopg.InterfaceError("the connection is closed"), sa_exc.InterfaceError),
        sa_error(pg_errors.QueryCanceled("canceling statement due to statement timeout")),
        sa_error(pg_errors.ReadOnlySqlTransaction("read-only transaction"), sa_exc.InternalError),
        sa_error(pg_errors.TooManyConnections("too many clients already")),
        sa_exc.TimeoutError("QueuePool limit reached, connection timed out"),
        pg_errors.AdminShutdown("terminating connection"),  # psycopg's own, unwrapped
    ],
)
def test_a_database_away_is_unavailable_and_transient(error: Exception) -> None:
    assert is_database_unavailable(error)
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        sa_error(psycopg.OperationalError('FATAL:  password authentication failed for user "w"')),
        sa_error(psycopg.OperationalError('FATAL:  database "nope" does not exist')),
        sa_error(pg_errors.UndefinedTable("relation does not exist"), sa_exc.ProgrammingError),
        sa_error(pg_errors.UniqueViolation("duplicate key"), sa_exc.IntegrityError),
        ValueError("a bad event"),
    ],
)
def test_a_database_refusing_for_good_is_not_unavailable(error: Exception) -> None:
    assert not is_database_unavailable(error)


def test_deadlocks_and_serialization_failures_are_transient() -> None:
    assert is_transient(sa_error(pg_errors.DeadlockDetected("deadlock"), sa_exc.InternalError))
    assert is_transient(sa_error(pg_errors.SerializationFailure("could not serialize")))


class RestartingStore(FakeHandledEvents):
    """A store whose claim fails as PostgreSQL's does while it restarts."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    @contextmanager
    def claim(self, event_id: uuid.UUID, event_type: str) -> Iterator[bool]:
        raise self.error
        yield True  # pragma: no cover


def test_a_claim_failing_on_a_restart_is_retried_not_dead_lettered(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    store = RestartingStore(sa_error(pg_errors.AdminShutdown("terminating connection")))
    bootstrap.install(fakes.container(store=store))
    before = sample(
        "courier_worker_database_unavailable_retries_total", event_type=registration.event_type
    )

    assert deliver(registration) == "retried"

    assert fakes.dead_letters.letters == []
    assert fakes.mailer.sent == []
    [retry] = fakes.retries.messages
    assert retry.headers["retries"] == 1
    assert (
        sample(
            "courier_worker_database_unavailable_retries_total", event_type=registration.event_type
        )
        == before + 1
    )


def test_a_database_away_never_exhausts_the_retries(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    store = RestartingStore(sa_error(psycopg.OperationalError("connection refused")))
    bootstrap.install(fakes.container(store=store))

    # Far past max_retries (3): the event keeps waiting for its database.
    assert deliver(registration, retries=40) == "retried"

    assert fakes.dead_letters.letters == []
    [retry] = fakes.retries.messages
    assert retry.headers["retries"] == 41
    assert retry.delay_seconds <= 30  # capped: events flow soon after the database is back


def test_a_misconfigured_database_still_exhausts_the_retries(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    store = RestartingStore(sa_error(psycopg.OperationalError("password authentication failed")))
    bootstrap.install(fakes.container(store=store))

    assert deliver(registration, retries=3) == "dead-lettered"
    assert [letter.reason for letter in fakes.dead_letters.letters] == ["retries-exhausted"]


def test_the_backoff_of_a_database_away_is_capped() -> None:
    policy = RetryPolicy(max_retries=3, base_seconds=1, max_seconds=600, rng=random.Random(3))

    delays = [policy.backoff(retries, database_away=True) for retries in range(20)]
    assert max(delays) <= 30
    assert max(policy.backoff(retries) for retries in range(20)) > 30
