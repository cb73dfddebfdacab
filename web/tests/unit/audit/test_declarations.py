"""``audited(...)``: one line audits a model, on top of the outbox's declarations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from shared_contracts.events.audit import EntityChanged

from courier_web.audit import Audit, audited, audits
from courier_web.outbox import emissions, evented_bulk_create, evented_bulk_update
from courier_web.outbox.models import OutboxMessage
from courier_web.users.models import ApiToken, Profile, User
from courier_web.users.tokens import token_hash
from tests.unit.audit.helpers import changes, forget_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def audited_tokens() -> Iterator[Audit]:
    """Tokens are not audited by the service; a test audits them for its own duration."""
    audit = audited(ApiToken, entity="api_token", exclude={"key_hash"})
    yield audit
    audit.disconnect()


def test_auditing_another_model_is_one_line(audited_tokens: Audit) -> None:
    user = User.objects.create(email="ada@example.com")
    forget_events()

    token = ApiToken.objects.create(user=user, key_hash=token_hash("cwt_example"))
    key = str(token.pk)
    token.delete()

    assert changes() == [
        ("api_token", key, "created", 1, ("created_at", "user")),
        ("api_token", key, "deleted", 2, ()),
    ]
    assert audited_tokens.fields == ("created_at", "user")
    assert token_hash("cwt_example") not in "".join(
        OutboxMessage.objects.values_list("body", flat=True)
    )


def test_a_disconnected_audit_writes_nothing_more(audited_tokens: Audit) -> None:
    user = User.objects.create(email="ada@example.com")
    audited_tokens.disconnect()
    forget_events()

    ApiToken.objects.create(user=user, key_hash=token_hash("cwt_example"))

    assert changes() == []
    assert audited_tokens not in audits()


def test_the_service_audits_users_and_profiles_through_declared_emissions() -> None:
    by_model = {audit.model: audit for audit in audits()}
    assert by_model[User].entity == "user"
    assert "password" in by_model[User].fields
    assert "last_login" not in by_model[User].fields
    assert (by_model[Profile].entity, by_model[Profile].key) == ("profile", "user")
    declared = {
        (e.sender_label, e.signal_name)
        for e in emissions()
        if e.event_type == EntityChanged.event_type
    }
    assert declared == {
        ("users.User", "post_save"),
        ("users.User", "post_delete"),
        ("users.Profile", "post_save"),
        ("users.Profile", "post_delete"),
    }


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"entity": "API token"}, r"entity 'API token' must match"),
        ({"entity": "token", "exclude": {"secret"}}, r"exclude names 'secret', not a column"),
        ({"entity": "token", "sensitive": {"nope"}}, r"sensitive names 'nope', not a column"),
        ({"entity": "token", "key": "created_at"}, r"key 'created_at' is not a unique field"),
        ({"entity": "token", "shared": {"nope"}}, r"shared names 'nope', not a column"),
        (
            {"entity": "token", "sensitive": {"key_hash"}, "shared": {"key_hash"}},
            r"shared names 'key_hash', which is sensitive or excluded",
        ),
        (
            {"entity": "token", "exclude": {"key_hash"}, "shared": {"key_hash"}},
            r"shared names 'key_hash', which is sensitive or excluded",
        ),
    ],
)
def test_a_bad_declaration_is_refused_at_start_up(
    declaration: dict[str, object], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        audited(ApiToken, **declaration)  # type: ignore[arg-type]


def test_a_model_is_audited_once() -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"already audited in courier_web\.users\.events"
    ):
        audited(User, entity="person")


def test_bulk_writes_through_the_outbox_are_audited_too() -> None:
    users = evented_bulk_create(
        User, [User(email=f"u{n}@example.com", display_name=f"U{n}") for n in range(3)]
    )
    created = sorted(
        (entity, key, action, version) for entity, key, action, version, _ in changes()
    )
    # Each user's profile is created with it, in bulk too.
    assert created == sorted(
        (entity, str(user.pk), "created", 1) for user in users for entity in ("profile", "user")
    )
    forget_events()

    users[0].display_name = "Renamed"
    evented_bulk_update(User, users, ["display_name"])  # only the first one changed
    users[0].save(update_fields=["display_name"])  # unchanged since the bulk write

    assert changes() == [("user", str(users[0].pk), "updated", 2, ("display_name",))]
