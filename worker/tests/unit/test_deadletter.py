from __future__ import annotations

import json
from typing import Any

import pytest
from courier_worker.deadletter import HANDLER_FAILED, DeadLetter, classify
from courier_worker.queues import CRITICAL
from shared_contracts import ContractError, Envelope, UserRegistered, decode, encode
from shared_contracts.topology import DEAD_LETTER_DETAIL_HEADER, DEAD_LETTER_REASON_HEADER


def _event(envelope: Envelope[UserRegistered]) -> dict[str, Any]:
    return envelope.model_dump(mode="json")


def _body(event: dict[str, Any]) -> bytes:
    return json.dumps([[], {"event": event}, {}]).encode()


def _newer_revision_without_email(event: dict[str, Any]) -> None:
    # A newer revision is read tolerantly, but not without a field its known one requires.
    event["schema_version"] = UserRegistered.schema_version + 1
    del event["payload"]["email"]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e["payload"].update(email="not-an-email"), "schema-violation"),
        (_newer_revision_without_email, "schema-violation"),
        (lambda e: e.update(event_type="order.placed.v1"), "unknown-event-type"),
        (lambda e: e["payload"].update(password="x"), "schema-violation"),
    ],
)
def test_contract_errors_are_classified(
    registration: Envelope[UserRegistered], mutate: Any, reason: str
) -> None:
    event = _event(registration)
    mutate(event)
    with pytest.raises(ContractError) as caught:
        decode(_body(event))
    assert classify(caught.value)[0] == reason


def test_a_newer_revision_decodes_without_the_fields_it_added(
    registration: Envelope[UserRegistered],
) -> None:
    event = _event(registration)
    newer = UserRegistered.schema_version + 1
    event.update(schema_version=newer)
    event["payload"]["added_later"] = "a field of the newer revision"

    envelope = decode(_body(event))

    assert envelope.event_id == registration.event_id
    assert envelope.payload == registration.payload
    assert envelope.schema_version == newer


def test_undecodable_body() -> None:
    with pytest.raises(ContractError) as caught:
        decode(b"{not json")
    assert classify(caught.value)[0] == "undecodable"


def test_other_errors_are_handler_failures() -> None:
    assert classify(ConnectionRefusedError("down")) == (
        HANDLER_FAILED,
        "ConnectionRefusedError: down",
    )


def test_dead_letter_headers(registration: Envelope[UserRegistered]) -> None:
    wire = encode(registration)
    letter = DeadLetter(
        source=CRITICAL,
        body=wire.body,
        reason="schema-violation",
        detail="x" * 5000,
        headers={**wire.headers, "x-delivery-count": 3},
    )
    headers = letter.publish_headers()
    assert headers[DEAD_LETTER_REASON_HEADER] == "schema-violation"
    assert len(headers[DEAD_LETTER_DETAIL_HEADER]) == 1000
    assert headers["id"] == str(registration.event_id)
    assert "x-delivery-count" not in headers
