"""The AsyncAPI document: every contract, and what the service parts declare about it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from shared_contracts import EVENT_TYPES, PROTOCOL_HEADERS, ProbeSent, encode, new_envelope
from shared_contracts.asyncapi import DocumentError, Publication, ServicePart, build
from shared_contracts.asyncapi.schemas import HEADERS
from shared_contracts.schema_export import committed


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _pointer(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@pytest.fixture
def document(producer: ServicePart, consumer: ServicePart) -> dict[str, Any]:
    return build([producer, consumer], version="1.2.3")


def test_every_committed_contract_is_a_message_on_its_routing_key(
    document: dict[str, Any],
) -> None:
    for event_type in committed():
        message = document["components"]["messages"][event_type]
        assert message["name"] == event_type
        assert message["title"] == EVENT_TYPES[event_type].__name__
        channel = document["channels"][f"courier.events.{event_type}"]
        assert channel["address"] == event_type
        assert channel["bindings"]["amqp"]["exchange"]["name"] == "courier.events"


def test_every_reference_resolves_inside_the_document(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref  # no pydantic "#/$defs/..." left over
        _pointer(document, ref)


def test_the_envelope_schema_is_the_committed_one(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["user.registered.v1"]
    stored = committed()["user.registered.v1"]
    assert set(schema["properties"]) == set(stored["properties"])
    payload = _pointer(document, schema["properties"]["payload"]["$ref"])
    assert payload == stored["$defs"]["UserRegistered"]


def test_who_publishes_and_who_consumes(document: dict[str, Any]) -> None:
    operations = document["operations"]
    publish = operations["shop-web.publish.user.registered.v1"]
    assert publish["action"] == "send"
    assert publish["channel"] == {"$ref": "#/channels/courier.events.user.registered.v1"}
    receive = operations["shop-worker.receive.user.registered.v1"]
    assert receive["action"] == "receive"
    assert receive["channel"] == {"$ref": "#/channels/shop.mail"}
    assert receive["x-courier-handler"] == "mail.welcome"
    assert operations["shop-worker.retry.shop.mail"]["channel"]["$ref"].endswith("shop.mail.delay")
    letters = document["channels"]["shop.mail.dead-letter"]
    assert letters["messages"] == {
        "dead-letter": {"$ref": "#/components/messages/shop-worker.dead-letter"}
    }
    reason = document["components"]["messages"]["shop-worker.dead-letter"]["headers"]
    assert reason["properties"]["x-why"]["enum"] == ["handler-failed", "undecodable"]


def test_the_delay_queues_are_one_channel_with_the_tier_as_parameter(
    document: dict[str, Any],
) -> None:
    channel = document["channels"]["shop.mail.delay"]
    assert channel["address"] == "shop.mail.delay.{seconds}s"
    assert channel["parameters"]["seconds"]["examples"] == ["1", "30"]
    assert [q["name"] for q in channel["x-courier-queues"]] == [
        "shop.mail.delay.1s",
        "shop.mail.delay.30s",
    ]


def test_the_headers_schema_covers_what_the_codec_writes(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"][HEADERS]
    headers = encode(
        new_envelope(ProbeSent(sequence=1), producer="courier-web", correlation_id="r-1")
    ).headers
    assert list(schema["properties"])[: len(PROTOCOL_HEADERS)] == list(PROTOCOL_HEADERS)
    assert set(schema["required"]) == set(headers)
    python_types = {
        "string": str,
        "integer": int,
        "boolean": bool,
        "null": type(None),
        "array": list,
    }
    for name, value in headers.items():
        spec = schema["properties"][name]
        assert isinstance(value, python_types[spec["type"]]), (name, value)
        if "const" in spec:
            assert value == spec["const"], name


def test_a_part_naming_an_unknown_event_type_is_refused(consumer: ServicePart) -> None:
    stray = ServicePart(
        service="shop-web",
        description="",
        publishes=(Publication(event_type="order.placed.v9"),),
    )

    with pytest.raises(DocumentError, match=r"shop-web declares 'order.placed.v9'"):
        build([stray, consumer], version="1")


def test_two_services_declaring_one_queue_are_refused(consumer: ServicePart) -> None:
    twin = consumer.model_copy(update={"service": "shop-twin"})

    with pytest.raises(DocumentError, match=r"both declare a queue 'shop\.mail'"):
        build([consumer, twin], version="1")


def test_a_binding_without_a_handler_is_refused(consumer: ServicePart) -> None:
    queue = consumer.consumes[0].model_copy(
        update={"bindings": ("user.registered.v1", "diagnostic.probe_sent.v1")}
    )
    part = consumer.model_copy(update={"consumes": (queue,)})

    with pytest.raises(DocumentError, match=r"diagnostic\.probe_sent\.v1"):
        build([part], version="1")


def test_the_document_is_deterministic(producer: ServicePart, consumer: ServicePart) -> None:
    first = json.dumps(build([producer, consumer], version="1"))
    again = json.dumps(build([consumer, producer], version="1"))

    assert first == again
