from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from shared_contracts import ProbeSent, decode, encode

from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.publisher import CONFIRMED
from courier_web.outbox.publishing import outbox_publish_batch, outbox_publish_ids, wire_message
from courier_web.outbox.writing import outbox_enqueue
from tests.fakes import FakePublisher

pytestmark = pytest.mark.django_db


def enqueue(n: int = 1) -> list[OutboxMessage]:
    return [outbox_enqueue(ProbeSent(sequence=i), correlation_id=f"probe-{i}") for i in range(n)]


def test_the_stored_row_rebuilds_exactly_what_encode_produced() -> None:
    (row,) = enqueue()

    wire = wire_message(row)
    envelope = decode(wire.body, wire.headers)
    again = encode(envelope, origin="courier-web")

    assert wire == again


def test_a_confirmed_row_is_marked_sent(fake_publisher: FakePublisher) -> None:
    rows = enqueue(3)

    report = outbox_publish_batch(publisher=fake_publisher, limit=10)

    assert (report.claimed, report.sent, report.failed, report.error) == (3, 3, 0, None)
    assert [m.message_id for m in fake_publisher.published] == [str(r.event_id) for r in rows]
    for row in rows:
        row.refresh_from_db()
        assert row.status == OutboxStatus.SENT
        assert row.sent_at is not None
        assert row.attempts == 1


def test_a_returned_row_is_marked_failed_with_the_reason(fake_publisher: FakePublisher) -> None:
    first, second = enqueue(2)
    fake_publisher.return_next("unroutable: 312 NO_ROUTE: no queue is bound")

    report = outbox_publish_batch(publisher=fake_publisher, limit=10)

    assert (report.sent, report.failed, report.error) == (1, 1, None)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == OutboxStatus.FAILED
    assert "NO_ROUTE" in first.last_error
    assert second.status == OutboxStatus.SENT


def test_a_broker_failure_keeps_the_unconfirmed_rows_pending(
    fake_publisher: FakePublisher,
) -> None:
    first, second = enqueue(2)
    fake_publisher.fail_next(detail="StreamLostError: connection reset")

    report = outbox_publish_batch(publisher=fake_publisher, limit=10)

    assert report.error == "StreamLostError: connection reset"
    assert (report.claimed, report.sent) == (2, 0)
    assert fake_publisher.batches == [2]
    first.refresh_from_db()
    second.refresh_from_db()
    # The whole batch was handed to the broker; neither was confirmed.
    for row in (first, second):
        assert (row.status, row.attempts, row.last_error) == (
            OutboxStatus.PENDING,
            1,
            "StreamLostError: connection reset",
        )
        assert row.sent_at is None

    # Once the broker is back, the next batch publishes both.
    report = outbox_publish_batch(publisher=fake_publisher, limit=10)
    assert report.sent == 2
    first.refresh_from_db()
    assert (first.status, first.attempts, first.last_error) == (OutboxStatus.SENT, 2, "")


def test_the_relay_leaves_rows_younger_than_the_grace_period(
    fake_publisher: FakePublisher,
) -> None:
    old, _young = enqueue(2)
    OutboxMessage.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(seconds=10)
    )

    report = outbox_publish_batch(publisher=fake_publisher, limit=10, min_age=timedelta(seconds=2))

    assert report.sent == 1
    assert [m.message_id for m in fake_publisher.published] == [str(old.event_id)]


def test_batches_are_bounded_and_oldest_first(fake_publisher: FakePublisher) -> None:
    rows = enqueue(5)

    outbox_publish_batch(publisher=fake_publisher, limit=2)

    assert [m.message_id for m in fake_publisher.published] == [str(r.event_id) for r in rows[:2]]


def test_publishing_by_id_skips_rows_already_sent(fake_publisher: FakePublisher) -> None:
    (row,) = enqueue()
    outbox_publish_ids(ids=[row.pk], publisher=fake_publisher)

    report = outbox_publish_ids(ids=[row.pk], publisher=fake_publisher)

    assert report.claimed == 0
    assert len(fake_publisher.published) == 1


def _updates(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


def test_a_batch_is_published_at_once_and_marked_with_one_update(
    fake_publisher: FakePublisher,
) -> None:
    rows = enqueue(50)

    with CaptureQueriesContext(connection) as queries:
        report = outbox_publish_batch(publisher=fake_publisher, limit=100)

    assert (report.claimed, report.sent, report.failed, report.error) == (50, 50, 0, None)
    assert fake_publisher.batches == [50]
    assert len(_updates(queries)) == 1
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {(OutboxStatus.SENT, 1)}
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0
    assert [m.message_id for m in fake_publisher.published] == [str(r.event_id) for r in rows]


def test_mixed_outcomes_are_recorded_with_one_update_each(
    fake_publisher: FakePublisher,
) -> None:
    returned, sent, nacked = enqueue(3)
    OutboxMessage.objects.filter(pk=nacked.pk).update(attempts=4)
    fake_publisher.return_next("unroutable: 312 NO_ROUTE")
    fake_publisher.outcomes.append(CONFIRMED)
    fake_publisher.fail_next(detail="the broker nacked the message")

    with CaptureQueriesContext(connection) as queries:
        report = outbox_publish_batch(publisher=fake_publisher, limit=10)

    assert (report.claimed, report.sent, report.failed) == (3, 1, 1)
    assert report.error == "the broker nacked the message"
    assert len(_updates(queries)) == 3
    for row in (returned, sent, nacked):
        row.refresh_from_db()
    assert (returned.status, returned.attempts, returned.last_error) == (
        OutboxStatus.FAILED,
        1,
        "unroutable: 312 NO_ROUTE",
    )
    assert (sent.status, sent.attempts, sent.last_error) == (OutboxStatus.SENT, 1, "")
    assert (nacked.status, nacked.attempts, nacked.last_error) == (
        OutboxStatus.PENDING,
        5,
        "the broker nacked the message",
    )
    assert returned.sent_at is None
    assert nacked.sent_at is None


def test_a_publisher_answering_for_the_wrong_number_of_rows_marks_nothing(
    fake_publisher: FakePublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue(3)
    monkeypatch.setattr(fake_publisher, "publish_many", lambda messages: [CONFIRMED])

    with pytest.raises(RuntimeError, match="1 publish results for 3 rows"):
        outbox_publish_batch(publisher=fake_publisher, limit=10)

    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {
        (OutboxStatus.PENDING, 0)
    }
