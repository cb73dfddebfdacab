from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.db import transaction
from shared_contracts import decode

from courier_web.correlation import bound_request_id
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.publishing import wire_message
from courier_web.users.models import Profile, User
from courier_web.users.services import user_create
from tests.conftest import STRONG_PASSWORD
from tests.fakes import FakePublisher, InlineDispatcher

pytestmark = pytest.mark.django_db

CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def test_a_new_user_gets_a_profile() -> None:
    user = user_create(email="ada@example.com", password=STRONG_PASSWORD)

    assert Profile.objects.filter(user=user).count() == 1


def test_a_new_user_writes_one_registration_row_with_the_right_envelope() -> None:
    with bound_request_id("req-42"):
        user = user_create(email="ada@example.com", password=STRONG_PASSWORD, display_name="Ada")

    row = OutboxMessage.objects.get(event_type="user.registered.v1")
    assert row.status == OutboxStatus.PENDING
    assert row.event_type == "user.registered.v1"
    assert row.routing_key == "user.registered.v1"
    assert row.exchange == "courier.events"
    wire = wire_message(row)
    envelope = decode(wire.body, wire.headers)
    assert envelope.event_id == row.event_id
    assert envelope.producer == "courier-web"
    assert envelope.correlation_id == "req-42"
    assert envelope.payload.model_dump() == {
        "user_id": user.pk,
        "email": "ada@example.com",
        "display_name": "Ada",
    }
    assert STRONG_PASSWORD not in row.body
    assert user.password not in row.body
    assert wire.headers["task"] == "user.registered.v1"
    assert wire.headers["id"] == str(row.event_id)
    assert wire.message_id == str(row.event_id)
    assert wire.delivery_mode == 2


def test_outside_a_request_the_event_gets_a_fresh_correlation_id() -> None:
    user_create(email="ada@example.com", password=STRONG_PASSWORD)
    user_create(email="bob@example.com", password=STRONG_PASSWORD)

    registrations = OutboxMessage.objects.filter(event_type="user.registered.v1")
    ids = set(registrations.values_list("correlation_id", flat=True))
    assert len(ids) == 2


def test_updating_a_user_writes_no_registration() -> None:
    user = user_create(email="ada@example.com", password=STRONG_PASSWORD)
    user.display_name = "Ada L."
    user.save()

    # Only the audit trail's entity.changed.v1 (tests/unit/audit) follows an update.
    assert OutboxMessage.objects.filter(event_type="user.registered.v1").count() == 1


def test_a_rollback_leaves_no_user_profile_or_row_and_publishes_nothing(
    django_capture_on_commit_callbacks: CaptureOnCommit,
    inline_dispatcher: InlineDispatcher,
    fake_publisher: FakePublisher,
) -> None:
    def register_then_fail() -> None:
        with transaction.atomic():
            user_create(email="ada@example.com", password=STRONG_PASSWORD)
            raise RuntimeError("the caller fails after the user row was saved")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        register_then_fail()

    assert callbacks == []
    assert User.objects.count() == 0
    assert Profile.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
    assert fake_publisher.published == []


def test_after_commit_the_row_is_handed_to_the_publisher_and_marked_sent(
    django_capture_on_commit_callbacks: CaptureOnCommit,
    inline_dispatcher: InlineDispatcher,
    fake_publisher: FakePublisher,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        user_create(email="ada@example.com", password=STRONG_PASSWORD)
        # Nothing is sent before the commit.
        assert fake_publisher.published == []

    for callback in callbacks:
        callback()

    # The registration and the audit trail's rows (the user's and the profile's creations).
    rows = list(OutboxMessage.objects.order_by("pk"))
    assert len(rows) == 3
    assert inline_dispatcher.submitted == [row.pk for row in rows]
    assert [m.message_id for m in fake_publisher.published] == [str(row.event_id) for row in rows]
    for row in rows:
        assert row.status == OutboxStatus.SENT
        assert row.sent_at is not None
        assert row.attempts == 1
