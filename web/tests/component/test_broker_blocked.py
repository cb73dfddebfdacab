"""A broker memory alarm: publishing times out instead of hanging, rows stay pending,
HTTP keeps answering, and everything drains once the alarm clears.

``rabbitmqctl set_vm_memory_high_watermark 0`` raises the alarm for the whole
(local, shared) node, so the test keeps it short and always restores 0.4.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from shared_contracts import ProbeSent

from courier_web.outbox.background import ThreadedDispatcher
from courier_web.outbox.broker import BrokerOptions
from courier_web.outbox.dispatch import use_dispatcher
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.publisher import PikaPublisher
from courier_web.outbox.publishing import outbox_publish_batch
from courier_web.outbox.writing import outbox_enqueue
from tests.component.conftest import Observer, eventually, rabbitmqctl
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

BLOCKED_TIMEOUT = 1.0


def alarm_active() -> bool:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "status"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    section = out.split("Alarms", 1)[-1].split("\n\n", 2)
    return "memory" in " ".join(section[:2]).lower()


@pytest.fixture
def memory_alarm() -> Iterator[Callable[[], None]]:
    """Raises the broker's memory alarm; the returned function (and teardown) clears it."""

    def clear() -> None:
        rabbitmqctl("set_vm_memory_high_watermark", "0.4")

    rabbitmqctl("set_vm_memory_high_watermark", "0")
    try:
        assert eventually(alarm_active, timeout=10), "the memory alarm did not go off"
        yield clear
    finally:
        clear()


def test_a_blocked_broker_times_out_rows_stay_pending_and_http_answers(
    client: Client,
    settings: Any,
    broker_settings: str,
    observe: Callable[[str], Observer],
    memory_alarm: Callable[[], None],
) -> None:
    settings.OUTBOX_BLOCKED_TIMEOUT = BLOCKED_TIMEOUT
    observer = observe("#")  # consumers are not blocked, only publishers
    dispatcher = ThreadedDispatcher.from_settings()
    with use_dispatcher(dispatcher):
        started = time.monotonic()
        response = client.post(
            "/api/users",
            {"email": "blocked@example.com", "password": STRONG_PASSWORD},
            content_type="application/json",
            headers={"X-Request-ID": "blocked-1"},
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 201
        assert elapsed < 1.0, f"the request waited {elapsed:.2f}s on a blocked broker"
        assert client.get("/healthz").status_code == 200

        # The relay's publisher gives up after blocked_connection_timeout.
        outbox_enqueue(ProbeSent(sequence=1), correlation_id="blocked-2")
        publisher = PikaPublisher(BrokerOptions.from_settings(connection_name="blocked test"))
        started = time.monotonic()
        report = outbox_publish_batch(publisher=publisher, limit=10)
        elapsed = time.monotonic() - started
        publisher.close()
        dispatcher.stop(timeout=BLOCKED_TIMEOUT * 3)

    assert report.error is not None
    assert report.sent == 0
    assert elapsed < BLOCKED_TIMEOUT + 4, f"publishing hung for {elapsed:.1f}s"
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.PENDING}
    assert observer.received == []

    memory_alarm()
    assert eventually(lambda: not alarm_active(), timeout=10)
    publisher = PikaPublisher(BrokerOptions.from_settings(connection_name="drain"))
    try:
        drained = outbox_publish_batch(publisher=publisher, limit=10)
    finally:
        publisher.close()

    assert drained.error is None
    # The registration, its audit trail's two events and the probe.
    assert drained.sent == OutboxMessage.objects.count() == 4
    rows = {str(row.event_id) for row in OutboxMessage.objects.all()}
    observer.wait_for(len(rows))
    observer.settle(1.0)
    arrived = [props.message_id for _, props, _ in observer.received]
    # Every event arrived. A batch that timed out while blocked had already
    # reached the broker's socket buffer and may be routed once the alarm
    # clears; the relay, which never got its confirms, publishes it again:
    # at-least-once, and the worker's idempotency absorbs the copies. Never
    # more copies of a row than recorded attempts to publish it.
    assert set(arrived) == rows
    for row in OutboxMessage.objects.all():
        assert row.status == OutboxStatus.SENT
        assert 1 <= arrived.count(str(row.event_id)) <= row.attempts
