import json

import pytest
from hypothesis import given
from shared_contracts import (
    CORRELATION_ID_HEADER,
    EVENTS_EXCHANGE,
    MAX_BODY_BYTES,
    PROTOCOL_HEADERS,
    MessageTooLarge,
    ProbeSent,
    SchemaViolation,
    UndecodableMessage,
    UserRegistered,
    WireMessage,
    codec,
    decode,
    encode,
    new_envelope,
    task_body,
)
from shared_contracts.envelope import Envelope
from shared_contracts.events import Event

from .strategies import envelopes


@given(envelopes)
def test_any_valid_event_survives_the_round_trip(envelope: Envelope[Event]) -> None:
    message = encode(envelope)

    assert decode(message.body, message.headers) == envelope


@given(envelopes)
def test_messages_follow_celery_protocol_v2(envelope: Envelope[Event]) -> None:
    message = encode(envelope)

    args, kwargs, embed = json.loads(message.body)
    assert (args, set(kwargs)) == ([], {"event"})
    assert set(embed) == {"callbacks", "errbacks", "chain", "chord"}
    assert message.headers["task"] == envelope.event_type
    assert message.headers["id"] == message.headers["root_id"] == str(envelope.event_id)
    assert message.headers["lang"] == "py"
    assert message.exchange == EVENTS_EXCHANGE
    assert message.routing_key == envelope.event_type
    assert message.delivery_mode == 2
    assert message.content_type == "application/json"
    assert message.correlation_id == str(envelope.event_id)


def _registration() -> Envelope[UserRegistered]:
    return new_envelope(
        UserRegistered(user_id=7, email="ada@example.com"),
        producer="courier-web",
        correlation_id="req-1",
    )


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b'{"event": {}}', b"[[], [], {}]", b"[1, 2]"],
    ids=["bad-json", "bad-utf8", "object", "kwargs-not-dict", "short"],
)
def test_undecodable_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(UndecodableMessage):
        decode(body)


def test_kwargs_without_an_event_are_a_schema_violation() -> None:
    with pytest.raises(SchemaViolation, match="no 'event'"):
        decode(b'[[], {"other": 1}, {}]')


def test_headers_that_disagree_with_the_envelope_are_refused() -> None:
    message = encode(_registration())

    with pytest.raises(SchemaViolation, match="task="):
        decode(message.body, {**message.headers, "task": "diagnostic.probe_sent.v1"})
    with pytest.raises(SchemaViolation, match="event_id"):
        decode(message.body, {**message.headers, "id": "someone-else"})


def test_oversized_events_are_refused_before_they_reach_the_wire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    largest = new_envelope(
        ProbeSent(sequence=1, note="x" * 200), producer="courier-web", correlation_id="c" * 128
    )
    assert len(encode(largest).body) < MAX_BODY_BYTES  # the largest valid event fits

    monkeypatch.setattr(codec, "MAX_BODY_BYTES", 64)
    with pytest.raises(MessageTooLarge, match="over 64"):
        encode(largest)


@given(envelopes)
def test_the_amqp_properties_rebuild_the_same_message(envelope: Envelope[Event]) -> None:
    message = encode(envelope)

    rebuilt = WireMessage.from_amqp(
        exchange=message.exchange,
        routing_key=message.routing_key,
        body=message.body,
        headers=message.amqp_properties()["headers"],
        properties=message.stored_properties(),
    )

    assert rebuilt == message
    assert message.amqp_properties() == {"headers": message.headers, **message.stored_properties()}


def test_amqp_correlation_id_is_the_event_id_and_the_header_the_request_id() -> None:
    envelope = _registration()

    properties = encode(envelope).amqp_properties()

    assert properties["correlation_id"] == properties["message_id"] == str(envelope.event_id)
    assert properties["headers"][CORRELATION_ID_HEADER] == envelope.correlation_id == "req-1"
    assert properties["delivery_mode"] == 2


def test_every_protocol_header_is_set_and_nothing_else_but_ours() -> None:
    headers = encode(_registration()).headers

    assert tuple(key for key in headers if not key.startswith("x-")) == PROTOCOL_HEADERS


def test_task_body_is_the_protocol_triple() -> None:
    assert json.loads(task_body((1,), {"a": 2})) == [
        [1],
        {"a": 2},
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
    ]
