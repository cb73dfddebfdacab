"""``evented_bulk_create`` / ``evented_bulk_update``: rows and their events in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from shared_contracts import ProbeSent, UserRegistered, decode

from courier_web.correlation import bound_request_id
from courier_web.outbox import (
    evented_bulk_create,
    evented_bulk_update,
    post_bulk_create,
    post_bulk_update,
)
from courier_web.outbox.models import OutboxMessage
from courier_web.outbox.publishing import wire_message
from courier_web.users.models import ApiToken, Profile, User
from tests.declarations import declared
from tests.fakes import FakePublisher, InlineDispatcher

pytestmark = pytest.mark.django_db

CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
REGISTERED = UserRegistered.event_type


def new_users(count: int, prefix: str = "user") -> list[User]:
    return [User(email=f"{prefix}{n}@example.com", display_name=f"U{n}") for n in range(count)]


def payloads(event_type: str) -> list[dict[str, Any]]:
    rows = OutboxMessage.objects.filter(event_type=event_type).order_by("pk")
    return [
        decode(wire_message(r).body, wire_message(r).headers).payload.model_dump() for r in rows
    ]


def inserts_into(captured: CaptureQueriesContext, table: str) -> int:
    return sum(q["sql"].startswith(f'INSERT INTO "{table}"') for q in captured.captured_queries)


@pytest.fixture
def bulk_signals() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every post_bulk_create/post_bulk_update sent during the test, with its arguments."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def on_create(sender: Any, **kwargs: Any) -> None:
        sent.append(("create", {"sender": sender, **kwargs}))

    def on_update(sender: Any, **kwargs: Any) -> None:
        sent.append(("update", {"sender": sender, **kwargs}))

    post_bulk_create.connect(on_create, dispatch_uid="test.bulk_create")
    post_bulk_update.connect(on_update, dispatch_uid="test.bulk_update")
    yield sent
    post_bulk_create.disconnect(dispatch_uid="test.bulk_create")
    post_bulk_update.disconnect(dispatch_uid="test.bulk_update")


def test_every_row_gets_the_events_of_its_emissions_with_the_request_id() -> None:
    with bound_request_id("import-7"):
        created = evented_bulk_create(User, new_users(3))

    assert all(user.pk for user in created)
    assert payloads(REGISTERED) == [
        {"user_id": user.pk, "email": user.email, "display_name": user.display_name}
        for user in created
    ]
    assert set(OutboxMessage.objects.values_list("correlation_id", flat=True)) == {"import-7"}


def test_the_rows_and_all_their_events_take_one_insert_each_whatever_their_number() -> None:
    def inserts(count: int, prefix: str) -> dict[str, int]:
        with CaptureQueriesContext(connection) as captured:
            evented_bulk_create(User, new_users(count, prefix))
        return {
            table: inserts_into(captured, table)
            for table in ("users_user", "users_profile", "outbox_outboxmessage")
        }

    few, more = inserts(2, "few"), inserts(25, "more")

    # Users, then their profiles (post_bulk_create), each with its events: one INSERT apiece.
    assert few == more == {"users_user": 1, "users_profile": 1, "outbox_outboxmessage": 2}
    assert Profile.objects.count() == 27
    assert OutboxMessage.objects.filter(event_type=REGISTERED).count() == 27


def test_when_is_asked_for_each_row_as_the_receiver_would_be() -> None:
    seen: list[dict[str, Any]] = []

    def when(user: User, **kwargs: Any) -> bool:
        seen.append(kwargs)
        return user.display_name == "U1"

    with declared(
        ProbeSent,
        on=post_save,
        sender=User,
        when=when,
        build=lambda user, **_: ProbeSent(sequence=user.pk),
    ):
        created = evented_bulk_create(User, new_users(3))

    assert payloads(ProbeSent.event_type) == [{"sequence": created[1].pk, "note": ""}]
    assert seen[0] == {"created": True, "update_fields": None, "raw": False, "using": "default"}


def test_pre_save_emissions_see_the_rows_before_they_are_written() -> None:
    with declared(
        ProbeSent,
        on=pre_save,
        sender=User,
        build=lambda user, **_: ProbeSent(sequence=0 if user.pk is None else 1, note=user.email),
    ):
        evented_bulk_create(User, new_users(2))

    assert payloads(ProbeSent.event_type) == [
        {"sequence": 0, "note": "user0@example.com"},
        {"sequence": 0, "note": "user1@example.com"},
    ]


def test_a_rollback_takes_rows_and_events_and_publishes_nothing(
    django_capture_on_commit_callbacks: CaptureOnCommit,
    inline_dispatcher: InlineDispatcher,
    fake_publisher: FakePublisher,
) -> None:
    def write_then_fail() -> None:
        with transaction.atomic():
            evented_bulk_create(User, new_users(3))
            raise RuntimeError("the caller fails after the bulk write")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        write_then_fail()

    assert User.objects.count() == 0
    assert Profile.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
    assert inline_dispatcher.submitted == []


def test_after_commit_every_row_is_handed_to_the_publisher_and_not_before(
    django_capture_on_commit_callbacks: CaptureOnCommit,
    inline_dispatcher: InlineDispatcher,
    fake_publisher: FakePublisher,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        evented_bulk_create(User, new_users(4))
        assert inline_dispatcher.submitted == []

    for callback in callbacks:
        callback()

    assert sorted(inline_dispatcher.submitted) == sorted(
        OutboxMessage.objects.values_list("pk", flat=True)
    )
    registered = [m for m in fake_publisher.published if m.routing_key == REGISTERED]
    assert len(registered) == 4


def test_post_bulk_create_is_sent_once_with_every_saved_instance(
    bulk_signals: list[tuple[str, dict[str, Any]]],
) -> None:
    created = evented_bulk_create(User, new_users(3))

    user_signals = [kwargs for kind, kwargs in bulk_signals if kwargs["sender"] is User]
    assert len(user_signals) == 1
    assert user_signals[0]["instances"] == created
    assert user_signals[0]["using"] == "default"
    assert [p.user_id for p in Profile.objects.order_by("user_id")] == [u.pk for u in created]


def test_a_build_that_returns_another_event_is_a_type_error_naming_the_declaration() -> None:
    with (
        declared(
            ProbeSent,
            on=post_save,
            sender=User,
            build=lambda user, **_: UserRegistered(user_id=user.pk, email=user.email),
        ),
        pytest.raises(TypeError, match="not the declared ProbeSent"),
    ):
        evented_bulk_create(User, new_users(1))

    assert User.objects.count() == 0


def test_a_model_without_emissions_is_simply_bulk_created() -> None:
    (user,) = evented_bulk_create(User, new_users(1))
    before = OutboxMessage.objects.count()

    tokens = evented_bulk_create(
        ApiToken, [ApiToken(user=user, key_hash=f"{n:064x}") for n in range(3)]
    )

    assert all(token.pk for token in tokens)
    assert OutboxMessage.objects.count() == before


def test_nothing_to_write_is_no_statement() -> None:
    with CaptureQueriesContext(connection) as captured:
        assert evented_bulk_create(User, []) == []
        assert evented_bulk_update(User, [], ["display_name"]) == 0

    assert captured.captured_queries == []


def test_a_bulk_update_saves_the_fields_and_asks_the_emissions_as_a_save_would(
    bulk_signals: list[tuple[str, dict[str, Any]]],
) -> None:
    users = evented_bulk_create(User, new_users(3))
    seen: list[dict[str, Any]] = []

    def when(user: User, **kwargs: Any) -> bool:
        seen.append(kwargs)
        return True

    for user in users:
        user.display_name = f"renamed {user.pk}"
    with declared(
        ProbeSent,
        on=post_save,
        sender=User,
        when=when,
        build=lambda user, **_: ProbeSent(sequence=user.pk, note=user.display_name),
    ):
        updated = evented_bulk_update(User, users, ["display_name"])

    assert updated == 3
    assert sorted(User.objects.values_list("display_name", flat=True)) == sorted(
        f"renamed {u.pk}" for u in users
    )
    assert payloads(ProbeSent.event_type) == [
        {"sequence": u.pk, "note": f"renamed {u.pk}"} for u in users
    ]
    assert seen[0] == {
        "created": False,
        "update_fields": frozenset({"display_name"}),
        "raw": False,
        "using": "default",
    }
    updates = [kwargs for kind, kwargs in bulk_signals if kind == "update"]
    assert [(u["sender"], u["update_fields"]) for u in updates] == [
        (User, frozenset({"display_name"}))
    ]
