from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.db import transaction
from shared_contracts import ProbeSent

from courier_web.outbox.background import ThreadedDispatcher
from courier_web.outbox.backoff import Backoff, CircuitBreaker
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.writing import outbox_enqueue
from tests.fakes import FakePublisher

# The publisher thread has its own database connection: rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def committed_row(sequence: int = 0) -> OutboxMessage:
    with transaction.atomic():
        return outbox_enqueue(ProbeSent(sequence=sequence), correlation_id="probe")


def make_dispatcher(publisher: FakePublisher, queue_size: int = 100) -> ThreadedDispatcher:
    return ThreadedDispatcher(
        lambda: publisher,
        queue_size=queue_size,
        breaker=CircuitBreaker(Backoff(initial=60.0, maximum=60.0)),
        idle_interval=0.05,
    )


def status_of(row: OutboxMessage) -> tuple[str, int]:
    row.refresh_from_db()
    return row.status, row.attempts


def test_a_submitted_row_is_published_from_the_background_thread(
    fake_publisher: FakePublisher,
) -> None:
    dispatcher = make_dispatcher(fake_publisher)
    row = committed_row()

    dispatcher.submit(row.pk)

    assert eventually(lambda: status_of(row) == (OutboxStatus.SENT, 1))
    dispatcher.stop()
    assert fake_publisher.closed == 1


def test_after_a_broker_failure_the_breaker_leaves_rows_to_the_relay(
    fake_publisher: FakePublisher,
) -> None:
    dispatcher = make_dispatcher(fake_publisher)
    fake_publisher.fail_next()
    first, second = committed_row(1), committed_row(2)

    dispatcher.submit(first.pk)
    assert eventually(lambda: status_of(first) == (OutboxStatus.PENDING, 1))
    dispatcher.submit(second.pk)
    dispatcher.stop()

    # The breaker is open for a minute: the second row was not even tried.
    assert status_of(second) == (OutboxStatus.PENDING, 0)
    assert fake_publisher.attempts == 1


def test_a_full_queue_drops_ids_without_raising(fake_publisher: FakePublisher) -> None:
    dispatcher = make_dispatcher(fake_publisher, queue_size=1)
    dispatcher._queue.put_nowait(0)  # fill it before the thread exists

    for row_id in range(10):
        dispatcher.submit(row_id)  # must neither raise nor block

    dispatcher.stop()
