"""The ``exit-after-confirm`` failpoint: the fault tests' seam between a confirm and its record."""

from __future__ import annotations

from typing import Any

import pytest
from shared_contracts import ProbeSent

from courier_web.outbox import failpoints
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.publishing import outbox_publish_batch
from courier_web.outbox.writing import outbox_enqueue
from tests.fakes import FakePublisher

pytestmark = pytest.mark.django_db


class ProcessExited(BaseException):
    """Stands in for ``os._exit``: nothing after it may run."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    statuses: list[int] = []

    def fake_exit(status: int) -> None:
        statuses.append(status)
        raise ProcessExited(status)

    monkeypatch.setattr(failpoints.os, "_exit", fake_exit)
    return statuses


def test_unset_it_changes_nothing(
    fake_publisher: FakePublisher, exits: list[int], settings: Any
) -> None:
    settings.OUTBOX_FAILPOINT = ""
    row = outbox_enqueue(ProbeSent(sequence=1), correlation_id="fp")

    report = outbox_publish_batch(publisher=fake_publisher, limit=10)

    assert report.sent == 1
    assert exits == []
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT


def test_exit_after_confirm_leaves_the_confirmed_row_pending(
    fake_publisher: FakePublisher, exits: list[int], settings: Any
) -> None:
    settings.OUTBOX_FAILPOINT = failpoints.EXIT_AFTER_CONFIRM
    row = outbox_enqueue(ProbeSent(sequence=1), correlation_id="fp")

    with pytest.raises(ProcessExited):
        outbox_publish_batch(publisher=fake_publisher, limit=10)

    # The broker has it (confirmed), the database does not say so: published again later.
    assert [m.message_id for m in fake_publisher.published] == [str(row.event_id)]
    assert exits == [failpoints.EXIT_STATUS]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.PENDING, 0, None)


def test_it_does_not_fire_without_a_confirm(
    fake_publisher: FakePublisher, exits: list[int], settings: Any
) -> None:
    settings.OUTBOX_FAILPOINT = failpoints.EXIT_AFTER_CONFIRM
    outbox_enqueue(ProbeSent(sequence=1), correlation_id="fp")
    fake_publisher.fail_next(detail="ConnectionRefusedError: down")

    report = outbox_publish_batch(publisher=fake_publisher, limit=10)

    assert report.error == "ConnectionRefusedError: down"
    assert exits == []
    assert OutboxMessage.objects.get().status == OutboxStatus.PENDING
