"""Contracts register themselves when their class is defined."""

from __future__ import annotations

from typing import ClassVar

import pytest
from shared_contracts import (
    EVENT_TYPES,
    ContractDefinitionError,
    Event,
    UserRegistered,
    new_envelope,
    parse_envelope,
    schema_export,
)


class ParcelShipped(Event):
    """A parcel left the warehouse. Key: parcel_id. (Defined by this test module.)"""

    event_type: ClassVar[str] = "test_parcel.shipped.v1"
    parcel_id: int


def test_defining_a_contract_registers_it() -> None:
    assert EVENT_TYPES["test_parcel.shipped.v1"] is ParcelShipped


def test_a_registered_contract_parses_and_exports_its_schema() -> None:
    envelope = new_envelope(ParcelShipped(parcel_id=3), producer="courier-web", correlation_id="r")

    parsed = parse_envelope(envelope.model_dump(mode="json"))

    assert parsed.payload == ParcelShipped(parcel_id=3)
    schema = schema_export.generate()["test_parcel.shipped.v1"]
    assert schema["title"] == "test_parcel.shipped.v1"


def test_an_abstract_base_without_a_type_is_not_registered() -> None:
    before = dict(EVENT_TYPES)

    class _ParcelEvent(Event):
        parcel_id: int

    assert dict(EVENT_TYPES) == before


def test_two_contracts_cannot_claim_one_type() -> None:
    with pytest.raises(ContractDefinitionError, match=r"already claimed by .*UserRegistered"):

        class Impostor(Event):
            event_type: ClassVar[str] = UserRegistered.event_type

    assert EVENT_TYPES[UserRegistered.event_type] is UserRegistered


@pytest.mark.parametrize(
    "event_type",
    ["parcel.shipped", "Parcel.Shipped.v1", "shipped.v1", "parcel.shipped.v0", "parcel shipped.v1"],
)
def test_a_type_that_breaks_the_naming_pattern_fails_at_definition(event_type: str) -> None:
    with pytest.raises(ContractDefinitionError, match="must look like"):
        type("Bad", (Event,), {"event_type": event_type, "__annotations__": {}})
    assert event_type not in EVENT_TYPES


def test_a_schema_version_below_one_fails_at_definition() -> None:
    with pytest.raises(ContractDefinitionError, match="schema_version"):

        class Early(Event):
            event_type: ClassVar[str] = "test_parcel.early.v1"
            schema_version: ClassVar[int] = 0
