"""The relay while its database goes away: it backs off, reconnects and loses nothing.

Statements fail through Django's own query hook (``connection.execute_wrapper``)
as PostgreSQL's do during a restart; the real restarts are in
tests/component/test_relay_database_outages.py and tests_integration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import structlog
from django.db import connection
from django.db import utils as django_db
from psycopg import errors as pg_errors

from courier_web.outbox.backoff import Backoff
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.relay import Relay, RelayConfig
from courier_web.outbox.relay_database import DatabaseLink, RelayMisconfigured
from tests.fakes import FakePublisher
from tests.unit.outbox.test_relay import ScriptedStop, enqueue

pytestmark = pytest.mark.django_db


class Outage:
    """Fails the statements it is told to, as a restarting PostgreSQL does, then lets them by."""

    def __init__(
        self, failures: int = 0, *, only: Callable[[str], bool] = lambda sql: True
    ) -> None:
        self.failures = failures
        self.only = only
        self.failed = 0

    def __call__(self, execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if self.failures and self.only(sql):
            self.failures -= 1
            self.failed += 1
            try:
                raise pg_errors.AdminShutdown("terminating connection due to administrator command")
            except pg_errors.AdminShutdown as driver_error:
                raise django_db.OperationalError(*driver_error.args) from driver_error
        return execute(sql, *args)


def mark_sent(sql: str) -> bool:
    return sql.startswith("UPDATE") and '"sent_at"' in sql


class CountingWakeup:
    mode = "poll"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.closes = 0

    def wait(self, timeout: float) -> list[int]:
        self.stop.wait(timeout)
        return []

    def close(self) -> None:
        self.closes += 1


def make_relay(publisher: FakePublisher, stop: threading.Event, **kwargs: Any) -> Relay:
    return Relay(
        publisher,
        RelayConfig(batch_size=10, poll_interval=0.5, grace=0.0),
        backoff=Backoff(initial=1.0, maximum=8.0, rng=lambda: 1.0),
        broker="amqp://guest:***@broker:5672/%2F",
        stop=stop,
        # The test's own transaction holds the connection: nothing to close here.
        database=DatabaseLink(
            Backoff(initial=0.5, maximum=2.0, rng=lambda: 1.0),
            database="postgresql://courier@db:5432/courier_web",
            close=lambda: None,
        ),
        **kwargs,
    )


def events(logs: list[dict[str, Any]]) -> list[str]:
    return [line["event"] for line in logs if line["event"].startswith("outbox.database")]


def test_a_database_down_at_start_is_waited_for_and_then_every_row_goes_out(
    fake_publisher: FakePublisher,
) -> None:
    enqueue(3)
    outage = Outage(failures=4)
    stop = ScriptedStop(stop_after_waits=6)
    wakeup = CountingWakeup(stop)

    with structlog.testing.capture_logs() as logs, connection.execute_wrapper(outage):
        stats = make_relay(fake_publisher, stop, wakeup=wakeup).run()

    assert stop.waits[:4] == [0.5, 1.0, 2.0, 2.0]  # jittered backoff, capped, between attempts
    assert stats.sent == 3
    assert stats.database_errors == 4
    assert events(logs) == ["outbox.database_unreachable", "outbox.database_back"]
    assert wakeup.closes >= 4  # dropped with each failure: LISTEN anew once back
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()


def test_a_batch_cut_between_confirm_and_mark_sent_is_published_again(
    fake_publisher: FakePublisher,
) -> None:
    stop = ScriptedStop(stop_after_waits=1)
    relay = make_relay(fake_publisher, stop)
    relay.run()  # the database answered once: it is "up"
    enqueue(3)
    stop.clear()
    stop.waits.clear()
    stop.stop_after_waits = 3
    outage = Outage(failures=1, only=mark_sent)

    with structlog.testing.capture_logs() as logs, connection.execute_wrapper(outage):
        stats = relay.run()

    assert outage.failed == 1
    # Confirmed once, not recorded, so published again: the worker's idempotency absorbs it.
    message_ids = [message.message_id for message in fake_publisher.published]
    assert len(message_ids) == 6
    assert len(set(message_ids)) == 3
    assert stats.database_errors == 1
    assert events(logs) == ["outbox.database_lost", "outbox.database_back"]
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()


def test_a_lost_database_is_logged_once_when_lost_and_once_when_back(
    fake_publisher: FakePublisher,
) -> None:
    stop = ScriptedStop(stop_after_waits=6)
    relay = make_relay(fake_publisher, stop)
    outage = Outage()

    def lose_it_after_the_first_idle(timeout: float | None = None) -> bool:
        if len(stop.waits) == 1:
            outage.failures = 3  # three statements fail: the database restarts
        return ScriptedStop.wait(stop, timeout)

    stop.wait = lose_it_after_the_first_idle  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logs, connection.execute_wrapper(outage):
        stats = relay.run()

    assert stats.database_errors == 3
    assert events(logs) == ["outbox.database_lost", "outbox.database_back"]
    back = next(line for line in logs if line["event"] == "outbox.database_back")
    assert back["failed_attempts"] == 3
    assert relay.health().database_up


def test_a_missing_table_stops_the_relay_saying_to_migrate(fake_publisher: FakePublisher) -> None:
    def missing_table(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        try:
            raise pg_errors.UndefinedTable('relation "outbox_outboxmessage" does not exist')
        except pg_errors.UndefinedTable as driver_error:
            raise django_db.ProgrammingError(*driver_error.args) from driver_error

    with connection.execute_wrapper(missing_table), pytest.raises(RelayMisconfigured) as caught:
        make_relay(fake_publisher, threading.Event()).run()

    assert "courier-web migrate" in str(caught.value)
    assert "UndefinedTable" in str(caught.value)


def test_an_error_that_is_not_about_the_database_being_away_is_not_swallowed(
    fake_publisher: FakePublisher,
) -> None:
    enqueue(1)

    def integrity(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        raise django_db.IntegrityError("a bug, not an outage")

    with connection.execute_wrapper(integrity), pytest.raises(django_db.IntegrityError):
        make_relay(fake_publisher, threading.Event()).run()


def test_once_stops_at_a_database_that_is_away(fake_publisher: FakePublisher) -> None:
    enqueue(2)

    with connection.execute_wrapper(Outage(failures=1)):
        stats = make_relay(fake_publisher, threading.Event()).run(once=True)

    assert stats.database_errors == 1
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 2


def test_a_prune_that_meets_a_database_away_waits_like_any_step(
    fake_publisher: FakePublisher,
) -> None:
    stop = ScriptedStop(stop_after_waits=2)
    relay = make_relay(fake_publisher, stop)
    relay.config = RelayConfig(
        batch_size=10, poll_interval=0.5, grace=0.0, retention=timedelta(days=1)
    )
    prune = Outage(failures=1, only=lambda sql: sql.startswith("DELETE") or "sent_at" in sql)

    with structlog.testing.capture_logs() as logs, connection.execute_wrapper(prune):
        relay.run()

    assert prune.failed == 1
    assert "outbox.prune_failed" not in [line["event"] for line in logs]
    assert events(logs) == ["outbox.database_unreachable", "outbox.database_back"]
