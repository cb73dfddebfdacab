"""The batched publish path against the real broker: a whole claimed batch goes out,
its confirms are collected, and the outcomes are recorded in the claiming transaction."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from shared_contracts import ProbeSent

from courier_web.outbox.background import ThreadedDispatcher
from courier_web.outbox.broker import BrokerOptions
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.publisher import Outcome, PikaPublisher
from courier_web.outbox.publishing import outbox_publish_batch
from courier_web.outbox.writing import outbox_enqueue
from tests.component.conftest import Observer, eventually
from tests.component.test_broker_blocked import alarm_active, memory_alarm  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

PROBES = "diagnostic.probe_sent.v1"


def enqueue(n: int, prefix: str) -> list[OutboxMessage]:
    with transaction.atomic():
        return [
            outbox_enqueue(ProbeSent(sequence=i), correlation_id=f"{prefix}-{i}") for i in range(n)
        ]


def publisher_for(url: str, **options: Any) -> PikaPublisher:
    return PikaPublisher(BrokerOptions(url=url, connection_name="batch test", **options))


def test_a_batch_of_500_is_confirmed_marked_sent_and_arrives_exactly_once(
    broker_settings: str, observe: Callable[[str], Observer]
) -> None:
    observer = observe(PROBES)
    rows = enqueue(500, "batch")
    publisher = publisher_for(broker_settings)
    try:
        report = outbox_publish_batch(publisher=publisher, limit=500)
    finally:
        publisher.close()

    assert (report.claimed, report.sent, report.failed, report.error) == (500, 500, 0, None)
    assert set(OutboxMessage.objects.values_list("status", "attempts", "last_error")) == {
        (OutboxStatus.SENT, 1, "")
    }
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    observer.wait_for(500, timeout=30)
    observer.settle(1.0)
    arrived = Counter(props.message_id for _, props, _ in observer.received)
    assert arrived == Counter(str(row.event_id) for row in rows)  # each exactly once


def test_unroutable_rows_in_a_batch_fail_with_the_reason_and_the_others_are_sent(
    broker_settings: str, observe: Callable[[str], Observer]
) -> None:
    observer = observe(PROBES)
    rows = enqueue(40, "mixed")
    unroutable = [row.pk for row in rows[::4]]
    OutboxMessage.objects.filter(pk__in=unroutable).update(routing_key="nobody.listens.v1")
    publisher = publisher_for(broker_settings)
    try:
        report = outbox_publish_batch(publisher=publisher, limit=100)
    finally:
        publisher.close()

    assert (report.claimed, report.sent, report.failed, report.error) == (40, 30, 10, None)
    for row in OutboxMessage.objects.filter(pk__in=unroutable):
        assert row.status == OutboxStatus.FAILED
        assert row.attempts == 1
        assert row.sent_at is None
        assert "312 NO_ROUTE" in row.last_error
        assert "'nobody.listens.v1'" in row.last_error
    routed = OutboxMessage.objects.exclude(pk__in=unroutable)
    assert set(routed.values_list("status", flat=True)) == {OutboxStatus.SENT}
    observer.wait_for(30)
    observer.settle()
    arrived = Counter(props.message_id for _, props, _ in observer.received)
    assert arrived == Counter(str(row.event_id) for row in routed)


def test_the_in_process_publisher_sends_committed_rows_in_batches(
    threaded_dispatcher: ThreadedDispatcher, observe: Callable[[str], Observer]
) -> None:
    observer = observe(PROBES)
    rows = enqueue(300, "thread")  # submitted to the thread on commit

    assert eventually(
        lambda: not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists(), timeout=30
    )
    observer.wait_for(300, timeout=30)
    observer.settle()
    arrived = Counter(props.message_id for _, props, _ in observer.received)
    assert arrived == Counter(str(row.event_id) for row in rows)


def test_a_blocked_broker_times_the_batch_out_and_its_rows_stay_pending(
    broker_settings: str,
    observe: Callable[[str], Observer],
    memory_alarm: Callable[[], None],  # noqa: F811
) -> None:
    observer = observe(PROBES)
    rows = enqueue(50, "blocked")
    # pika's own blocked-connection timeout is longer: the confirm wait is what gives up.
    publisher = publisher_for(broker_settings, blocked_timeout=3.0, confirm_timeout=1.0)
    started = time.monotonic()
    try:
        report = outbox_publish_batch(publisher=publisher, limit=100)
        elapsed = time.monotonic() - started
    finally:
        publisher.close()  # waits for pika's blocked timeout at most

    assert report.error == "no confirm from the broker within 1s"
    assert (report.claimed, report.sent, report.failed) == (50, 0, 0)
    assert elapsed < 5, f"the batch waited {elapsed:.1f}s"
    assert set(OutboxMessage.objects.values_list("status", "attempts", "last_error")) == {
        (OutboxStatus.PENDING, 1, "no confirm from the broker within 1s")
    }
    assert not OutboxMessage.objects.filter(sent_at__isnull=False).exists()

    memory_alarm()  # clears it
    assert eventually(lambda: not alarm_active(), timeout=10)
    publisher = publisher_for(broker_settings)
    try:
        drained = outbox_publish_batch(publisher=publisher, limit=100)
    finally:
        publisher.close()
    assert (drained.sent, drained.error) == (50, None)
    observer.wait_for(50, timeout=20)
    observer.settle(1.0)
    arrived = Counter(props.message_id for _, props, _ in observer.received)
    # At least once; a copy per recorded attempt at most (the timed-out batch
    # may have reached the broker's socket buffer and be routed after the alarm).
    for row in OutboxMessage.objects.all():
        assert row.status == OutboxStatus.SENT
        assert 1 <= arrived[str(row.event_id)] <= row.attempts == 2
    assert set(arrived) == {str(row.event_id) for row in rows}


def test_publish_keeps_answering_one_message_at_a_time(
    broker_settings: str, observe: Callable[[str], Observer]
) -> None:
    from courier_web.outbox.publishing import wire_message

    observer = observe(PROBES)
    (row,) = enqueue(1, "single")
    publisher = publisher_for(broker_settings)
    try:
        first = publisher.publish(wire_message(row))
        second = publisher.publish(wire_message(row))  # same channel, next delivery tag
    finally:
        publisher.close()
    assert (first.outcome, second.outcome) == (Outcome.CONFIRMED, Outcome.CONFIRMED)
    observer.wait_for(2)
    assert len(observer.received) == 2
