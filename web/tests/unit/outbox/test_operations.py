"""`courier-web outbox status|replay|prune`, and the relay's periodic pruning."""

from __future__ import annotations

import io
import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from shared_contracts import ProbeSent

from courier_web.outbox.backoff import Backoff
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.operations import outbox_prune
from courier_web.outbox.relay import Relay, RelayConfig
from courier_web.outbox.writing import outbox_enqueue
from tests.conftest import CapturedLogs
from tests.fakes import FakePublisher

pytestmark = pytest.mark.django_db


def make_row(seq: int, *, status: str = OutboxStatus.PENDING, age_h: float = 0) -> OutboxMessage:
    row = outbox_enqueue(ProbeSent(sequence=seq), correlation_id=f"ops-{seq}")
    when = timezone.now() - timedelta(hours=age_h)
    OutboxMessage.objects.filter(pk=row.pk).update(
        status=status,
        created_at=when,
        sent_at=when if status == OutboxStatus.SENT else None,
        attempts=3 if status == OutboxStatus.FAILED else 0,
        last_error="unroutable: 312 NO_ROUTE" if status == OutboxStatus.FAILED else "",
    )
    row.refresh_from_db()
    return row


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("outbox", *args, stdout=out)
    return out.getvalue()


def test_status_reports_pending_oldest_age_and_failed_rows_with_reasons() -> None:
    make_row(1, age_h=1)
    make_row(2)
    failed = make_row(3, status=OutboxStatus.FAILED)
    make_row(4, status=OutboxStatus.SENT)

    text = run("status")
    data = json.loads(run("status", "--json"))

    assert "pending: 2" in text
    assert "failed: 1" in text
    assert str(failed.event_id) in text
    assert "NO_ROUTE" in text
    assert data["pending"] == 2
    assert data["failed"] == 1
    assert 3590 < data["oldest_pending_age_seconds"] < 3700
    assert data["failed_rows"][0]["event_id"] == str(failed.event_id)
    assert data["failed_rows"][0]["reason"] == "unroutable: 312 NO_ROUTE"


def test_status_of_an_empty_outbox() -> None:
    data = json.loads(run("status", "--json"))

    assert data == {
        "pending": 0,
        "oldest_pending_age_seconds": 0.0,
        "failed": 0,
        "failed_rows": [],
    }


def test_replay_all_failed_makes_them_pending_with_attempts_reset(
    captured_logs: CapturedLogs,
) -> None:
    first = make_row(1, status=OutboxStatus.FAILED)
    second = make_row(2, status=OutboxStatus.FAILED)
    sent = make_row(3, status=OutboxStatus.SENT)

    text = run("replay", "--all-failed")

    assert "replayed 2" in text
    for row in (first, second):
        row.refresh_from_db()
        assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 0, "")
    sent.refresh_from_db()
    assert sent.status == OutboxStatus.SENT
    logged = {line["event_id"] for line in captured_logs.events("outbox.replayed")}
    assert logged == {str(first.event_id), str(second.event_id)}


def test_replay_by_event_id_moves_only_those_and_names_what_it_left() -> None:
    chosen = make_row(1, status=OutboxStatus.FAILED)
    other = make_row(2, status=OutboxStatus.FAILED)
    sent = make_row(3, status=OutboxStatus.SENT)
    unknown = uuid.uuid4()

    with pytest.raises(CommandError, match=str(unknown)) as raised:
        run(
            "replay",
            "--event-id",
            str(chosen.event_id),
            "--event-id",
            str(sent.event_id),
            "--event-id",
            str(unknown),
        )

    assert str(sent.event_id) in str(raised.value)
    chosen.refresh_from_db()
    other.refresh_from_db()
    sent.refresh_from_db()
    assert chosen.status == OutboxStatus.PENDING
    assert other.status == OutboxStatus.FAILED
    assert sent.status == OutboxStatus.SENT


def test_replay_needs_a_choice() -> None:
    with pytest.raises(CommandError):
        run("replay")


def test_prune_deletes_only_old_sent_rows_in_batches() -> None:
    old_sent = [make_row(i, status=OutboxStatus.SENT, age_h=200) for i in range(5)]
    recent_sent = make_row(10, status=OutboxStatus.SENT, age_h=1)
    old_pending = make_row(11, age_h=300)
    old_failed = make_row(12, status=OutboxStatus.FAILED, age_h=300)

    deleted = outbox_prune(older_than=timedelta(hours=168), batch_size=2)

    assert deleted == 5
    remaining = set(OutboxMessage.objects.values_list("pk", flat=True))
    assert remaining == {recent_sent.pk, old_pending.pk, old_failed.pk}
    assert not remaining & {row.pk for row in old_sent}


def test_prune_is_bounded_per_call() -> None:
    for i in range(5):
        make_row(i, status=OutboxStatus.SENT, age_h=200)

    assert outbox_prune(older_than=timedelta(hours=1), batch_size=2, max_batches=1) == 2
    assert OutboxMessage.objects.count() == 3


def test_the_prune_command_uses_the_retention(settings: object) -> None:
    make_row(1, status=OutboxStatus.SENT, age_h=200)
    make_row(2, status=OutboxStatus.SENT, age_h=2)

    assert "deleted 1" in run("prune")
    assert "deleted 1" in run("prune", "--older-than-hours", "1")


def test_the_relay_prunes_periodically() -> None:
    make_row(1, status=OutboxStatus.SENT, age_h=200)
    make_row(2, status=OutboxStatus.SENT, age_h=1)
    stop = threading.Event()
    relay = Relay(
        FakePublisher(),
        RelayConfig(batch_size=10, poll_interval=0.0, grace=0.0, retention=timedelta(hours=168)),
        backoff=Backoff(initial=1.0, maximum=1.0),
        broker="amqp://test",
        stop=stop,
    )

    relay.run(once=True)

    assert OutboxMessage.objects.count() == 1
