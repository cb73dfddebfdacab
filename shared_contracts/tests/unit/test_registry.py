from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError
from shared_contracts import (
    EVENT_TYPES,
    SchemaViolation,
    UnknownEventType,
    UserRegistered,
    new_envelope,
    parse_envelope,
)

#: A revision of user.registered.v1 newer than the one this package knows.
NEWER = UserRegistered.schema_version + 1


def _event(**overrides: Any) -> dict[str, Any]:
    envelope = new_envelope(
        UserRegistered(user_id=1, email="ada@example.com", display_name="Ada"),
        producer="courier-web",
        correlation_id="req-42",
    ).model_dump(mode="json")
    payload = {**envelope["payload"], **overrides.pop("payload", {})}
    return {**envelope, **overrides, "payload": payload}


def test_every_registered_type_carries_its_major_version() -> None:
    for event_type, model in EVENT_TYPES.items():
        assert model.event_type == event_type
        assert event_type.rsplit(".", 1)[-1].startswith("v")
        assert model.schema_version >= 1


def test_a_valid_event_parses_into_its_typed_payload() -> None:
    envelope = parse_envelope(_event())

    assert isinstance(envelope.payload, UserRegistered)
    assert envelope.payload.email == "ada@example.com"


def test_unknown_event_types_are_named() -> None:
    with pytest.raises(UnknownEventType, match=r"user\.deleted\.v1"):
        parse_envelope(_event(event_type="user.deleted.v1"))


def test_a_newer_revision_is_read_as_the_known_one_without_its_new_fields() -> None:
    # The next revision added an optional field this consumer does not know.
    event = _event(schema_version=NEWER, payload={"added_later": "import"})

    envelope = parse_envelope(event)

    assert isinstance(envelope.payload, UserRegistered)
    assert envelope.payload.email == "ada@example.com"
    assert envelope.payload.display_name == "Ada"
    assert "added_later" not in envelope.payload.model_dump()
    assert envelope.schema_version == NEWER  # the revision it was written in


def test_a_newer_revision_still_needs_every_field_the_known_one_requires() -> None:
    event = _event(schema_version=NEWER)
    del event["payload"]["email"]

    with pytest.raises(SchemaViolation, match=r"payload\.email"):
        parse_envelope(event)


def test_a_newer_revision_still_validates_the_fields_it_knows() -> None:
    with pytest.raises(SchemaViolation, match=r"payload\.user_id"):
        parse_envelope(_event(schema_version=NEWER, payload={"user_id": 0, "added_later": 1}))


def test_unknown_envelope_fields_are_violations_in_any_revision() -> None:
    # Tolerance covers the payload (the contract's revisions), not the envelope.
    with pytest.raises(SchemaViolation, match="surprise"):
        parse_envelope(_event(schema_version=NEWER, surprise=1))


def test_an_older_revision_is_accepted() -> None:
    assert parse_envelope(_event(schema_version=1)).schema_version == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"payload": {"email": "not-an-email"}}, "payload.email"),
        ({"payload": {"user_id": 0}}, "payload.user_id"),
        ({"payload": {"password": "hunter2"}}, "payload.password"),
        ({"occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),
        ({"correlation_id": "has spaces"}, "correlation_id"),
        ({"event_id": "nope"}, "event_id"),
        ({"surprise": 1}, "surprise"),
    ],
    ids=["email", "user-id", "extra-payload-field", "naive-time", "correlation", "id", "extra"],
)
def test_schema_violations_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(SchemaViolation, match=field.replace(".", r"\.")):
        parse_envelope(_event(**overrides))


def test_violation_messages_never_echo_the_input() -> None:
    with pytest.raises(SchemaViolation) as caught:
        parse_envelope(_event(payload={"password": "correct-horse-9"}))
    assert "correct-horse-9" not in str(caught.value)


@pytest.mark.parametrize("data", [[], "x", None, {"event_type": 3}])
def test_non_objects_and_missing_types_are_violations(data: Any) -> None:
    with pytest.raises(SchemaViolation):
        parse_envelope(data)


def test_occurred_at_is_normalised_to_utc() -> None:
    local = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    envelope = new_envelope(
        UserRegistered(user_id=1, email="a@example.com"),
        producer="courier-web",
        correlation_id="r",
        occurred_at=local,
    )
    assert envelope.occurred_at.tzinfo == UTC
    assert envelope.occurred_at.hour == 10


def test_events_and_envelopes_are_frozen() -> None:
    event = UserRegistered(user_id=1, email="a@example.com")
    with pytest.raises(ValidationError):
        event.user_id = 2  # type: ignore[misc]
    envelope = new_envelope(event, producer="courier-web", correlation_id="r")
    with pytest.raises(ValidationError):
        envelope.producer = "someone-else"  # type: ignore[misc]


def test_events_carry_no_secret_fields() -> None:
    forbidden = {"password", "password_hash", "token", "secret"}
    for model in EVENT_TYPES.values():
        assert not forbidden & set(model.model_fields), model.event_type
