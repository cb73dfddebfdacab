"""Users and profiles are audited: what their creations, changes and deletions write."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import update_last_login
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from courier_web.actor import bound_actor
from courier_web.correlation import bound_request_id
from courier_web.users.models import Profile, User
from courier_web.users.services import user_create, user_update
from tests.conftest import STRONG_PASSWORD
from tests.unit.audit.helpers import audit_envelopes, changes, forget_events, outbox_text

pytestmark = pytest.mark.django_db

USER_FIELDS = (
    "date_joined",
    "display_name",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
    "newsletter_opt_in",
    "password",
)


def registered() -> User:
    user = user_create(email="ada@example.com", password=STRONG_PASSWORD, display_name="Ada")
    forget_events()
    return User.objects.get(pk=user.pk)  # as a request loads it


def test_a_registration_audits_the_user_and_its_profile_as_created() -> None:
    with bound_request_id("req-new"):
        user = user_create(email="ada@example.com", password=STRONG_PASSWORD)

    key = str(user.pk)
    assert sorted(changes()) == [
        ("profile", key, "created", 1, ("bio", "created_at", "user")),
        ("user", key, "created", 1, USER_FIELDS),
    ]
    assert {e.correlation_id for e in audit_envelopes()} == {"req-new"}
    assert {e.payload.actor_id for e in audit_envelopes()} == {None}  # nobody signed in


def test_a_change_names_the_changed_field_the_actor_and_the_request() -> None:
    user = registered()

    with bound_request_id("req-rename"), bound_actor(user.pk):
        user_update(user=user, display_name="Ada L.")

    (envelope,) = audit_envelopes()
    assert envelope.correlation_id == "req-rename"
    change = envelope.payload
    assert (change.entity, change.entity_id, change.action) == ("user", str(user.pk), "updated")
    assert change.changed_fields == ("display_name",)
    assert change.actor_id == user.pk
    assert change.version == 2


def test_an_update_that_changes_nothing_emits_nothing() -> None:
    user = registered()

    user_update(user=user, display_name="Ada")  # the same name
    user.save()  # nothing changed at all
    update_last_login(None, user)  # a log-in: excluded noise

    assert changes() == []


def test_a_second_save_of_the_same_instance_compares_with_the_first() -> None:
    user = registered()

    user_update(user=user, display_name="Ada L.")
    user_update(user=user, display_name="Ada L.")  # unchanged since the first save
    user_update(user=user, display_name="Ada")

    assert [(action, version, fields) for _, _, action, version, fields in changes()] == [
        ("updated", 2, ("display_name",)),
        ("updated", 3, ("display_name",)),
    ]


def test_a_field_changed_but_not_saved_is_reported_by_the_save_that_writes_it() -> None:
    user = registered()
    user.display_name = "Ada L."
    user.email = "ada.l@example.com"

    user.save(update_fields=["display_name"])
    user.save(update_fields=["email"])

    assert [fields for *_, fields in changes()] == [("display_name",), ("email",)]


def test_a_password_change_is_named_but_its_hash_goes_nowhere() -> None:
    user = registered()
    old_hash = user.password

    user.set_password("another-Horse-battery-7")
    user.save(update_fields=["password"])

    assert [fields for *_, fields in changes()] == [("password",)]
    text = outbox_text()
    for secret in (old_hash, user.password, "another-Horse-battery-7", STRONG_PASSWORD):
        assert secret not in text
    snapshot = user.__dict__["_courier_audit_snapshot"]
    assert user.password not in repr(snapshot)  # only a digest of it is kept


def test_only_the_shared_fields_values_are_carried() -> None:
    user = user_create(email="grace@example.com", password=STRONG_PASSWORD, display_name="Grace H.")
    user_update(user=user, display_name="Grace B. H.")
    user.set_password("another-Horse-battery-7")
    user.save(update_fields=["password"])
    with transaction.atomic():
        User.objects.get(pk=user.pk).delete()

    payloads = [e.payload for e in audit_envelopes()]
    of_user = [(p.action, p.values) for p in payloads if p.entity == "user"]
    # The read model's copy: email and display name at creation, then each change of them.
    assert of_user == [
        ("created", {"email": "grace@example.com", "display_name": "Grace H."}),
        ("updated", {"display_name": "Grace B. H."}),
        ("updated", {}),  # the password: named, never shared
        ("deleted", {}),
    ]
    assert all(not p.values for p in payloads if p.entity == "profile")
    audit_only = " ".join(e.model_dump_json() for e in audit_envelopes())
    for secret in (user.password, "another-Horse-battery-7", STRONG_PASSWORD):
        assert secret not in audit_only


def test_a_deferred_field_named_by_a_save_counts_as_changed() -> None:
    user = registered()
    partial = User.objects.only("id").get(pk=user.pk)
    partial.display_name = "Ada L."

    partial.save(update_fields=["display_name"])

    assert [fields for *_, fields in changes()] == [("display_name",)]


def test_a_deletion_audits_the_profile_and_the_user_with_their_next_versions() -> None:
    user = registered()
    user_update(user=user, display_name="Ada L.")
    forget_events()

    with bound_request_id("req-bye"), bound_actor(user.pk), transaction.atomic():
        User.objects.get(pk=user.pk).delete()

    key = str(user.pk)
    assert sorted(changes()) == [
        ("profile", key, "deleted", 2, ()),
        ("user", key, "deleted", 3, ()),
    ]
    assert {(e.correlation_id, e.payload.actor_id) for e in audit_envelopes()} == {
        ("req-bye", user.pk)
    }


def test_a_profile_is_keyed_by_its_users_id() -> None:
    user = registered()
    profile = Profile.objects.get(user=user)
    moved = Profile.objects.without_events(reason="test: an id unlike its user's")
    moved.filter(pk=profile.pk).update(id=user.pk + 1000)
    profile = Profile.objects.get(user=user)

    profile.bio = "Mathematician."
    profile.save()

    assert changes() == [("profile", str(user.pk), "updated", 2, ("bio",))]


def test_a_rollback_takes_the_audit_event_and_its_version_with_it() -> None:
    user = registered()

    def rename_then_fail() -> None:
        with transaction.atomic():
            user_update(user=user, display_name="Never")
            raise RuntimeError("the caller fails after the save")

    with pytest.raises(RuntimeError):
        rename_then_fail()
    user = User.objects.get(pk=user.pk)
    user_update(user=user, display_name="Ada L.")

    assert [version for *_, version, _ in changes()] == [2]


def test_an_audited_update_costs_the_update_the_version_and_the_outbox_row() -> None:
    user = registered()

    with CaptureQueriesContext(connection) as queries:
        user_update(user=user, display_name="Ada L.")

    sql = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]
    assert [(s.split()[0], s.split()[2].strip('"')) for s in sql] == [
        ("UPDATE", "SET"),
        ("INSERT", "audit_entityversion"),
        ("INSERT", "outbox_outboxmessage"),
    ], sql
    assert sql[0].startswith('UPDATE "users_user"')
