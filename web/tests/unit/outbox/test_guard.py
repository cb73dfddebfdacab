"""Silent bulk writes on a model whose saves emit events are refused, naming the evented way."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.management import call_command
from django.db.models.signals import post_delete, post_save
from shared_contracts import ProbeSent

from courier_web.outbox import EventedQuerySet, SilentWriteRefused, evented_bulk_create
from courier_web.outbox.checks import check_evented_models_refuse_silent_writes
from courier_web.outbox.models import OutboxMessage
from courier_web.users.models import ApiToken, Profile, User
from tests.declarations import declared

pytestmark = pytest.mark.django_db


def saved_user(email: str = "ada@example.com") -> User:
    return User.objects.create_user(email)


def test_bulk_create_is_refused_with_a_message_naming_the_evented_way() -> None:
    with pytest.raises(SilentWriteRefused) as refused:
        User.objects.bulk_create([User(email="ada@example.com")])

    message = str(refused.value)
    assert "users.User.objects.bulk_create() sends no pre_save/post_save signal" in message
    assert "user.registered.v1" in message
    assert "courier_web.outbox.evented_bulk_create(User, objs)" in message
    assert "without_events(reason=" in message
    assert User.objects.count() == 0


def test_update_and_bulk_update_are_refused_too_and_change_nothing() -> None:
    user = saved_user()
    user.display_name = "Mallory"

    with pytest.raises(SilentWriteRefused, match=r"evented_bulk_update\(User, objs, fields\)"):
        User.objects.filter(pk=user.pk).update(display_name="Mallory")
    with pytest.raises(SilentWriteRefused, match=r"bulk_update\(\) sends no"):
        User.objects.bulk_update([user], ["display_name"])
    with pytest.raises(SilentWriteRefused, match=r"users\.Profile"):
        Profile.objects.all().update(bio="silently")

    assert User.objects.get().display_name == ""
    assert Profile.objects.get().bio == ""


def test_a_write_that_is_no_event_says_why_and_goes_through_any_chain() -> None:
    user = saved_user()
    before = OutboxMessage.objects.count()

    updated = (
        User.objects.without_events(reason="backfill: display names were not trimmed")
        .filter(pk=user.pk)
        .exclude(email="")
        .update(display_name="Ada")
    )

    assert updated == 1
    assert User.objects.get().display_name == "Ada"
    assert OutboxMessage.objects.count() == before


def test_without_events_wants_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        User.objects.without_events(reason="  ")


def test_the_waiver_does_not_leak_into_other_querysets() -> None:
    User.objects.without_events(reason="a one-off").filter(pk=1)

    with pytest.raises(SilentWriteRefused):
        User.objects.filter(pk=1).update(display_name="x")


def test_a_queryset_of_a_model_without_save_emissions_writes_as_usual() -> None:
    user = saved_user()
    evented_bulk_create(ApiToken, [ApiToken(user=user, key_hash="a" * 64)])

    assert EventedQuerySet(ApiToken).update(key_hash="b" * 64) == 1


def test_a_deletion_emission_alone_needs_no_guard() -> None:
    # bulk writes skip pre_save/post_save only; QuerySet.delete() sends post_delete.
    with declared(
        ProbeSent, on=post_delete, sender=ApiToken, build=lambda t, **_: ProbeSent(sequence=1)
    ):
        assert check_evented_models_refuse_silent_writes() == []


def test_the_project_passes_the_check() -> None:
    call_command("check", "--fail-level", "ERROR")
    assert check_evented_models_refuse_silent_writes() == []


def test_an_emitting_model_with_a_plain_manager_fails_the_check_with_a_hint() -> None:
    with declared(
        ProbeSent, on=post_save, sender=ApiToken, build=lambda token, **_: ProbeSent(sequence=1)
    ):
        errors = checks.run_checks(tags=[checks.Tags.models])

    ours = [e for e in errors if e.id == "courier.E001"]
    assert len(ours) == 1
    (error,) = ours
    assert error.obj is ApiToken
    assert "users.ApiToken emits diagnostic.probe_sent.v1 on save" in error.msg
    assert "'objects'" in error.msg
    assert "EventedManager()" in (error.hint or "")
