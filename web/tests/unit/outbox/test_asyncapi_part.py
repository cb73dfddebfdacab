"""``courier-web asyncapi_part``: what the web publishes, read from its emission declarations."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command
from shared_contracts.asyncapi import ServicePart

from courier_web.outbox import emissions
from courier_web.outbox.management.commands.asyncapi_part import web_part
from courier_web.outbox.writing import PRODUCER


def test_every_declared_emission_is_a_publication_with_its_trigger() -> None:
    part = web_part()

    assert part.service == PRODUCER
    triggers = {p.event_type: set(p.triggers) for p in part.publishes}
    # Every emission, and what an operator's command publishes (a replay).
    assert set(triggers) == {e.event_type for e in emissions()} | {"user.registration_replayed.v1"}
    for emission in emissions():
        assert f"{emission.signal_name} of {emission.sender_label}" in triggers[emission.event_type]
    assert "post_save of users.User" in triggers["user.registered.v1"]
    # What the web consumes is its result queue (``courier_web.consumer``).
    assert [queue.name for queue in part.consumes] == ["courier.web.results"]


def test_the_command_writes_the_part_as_json(tmp_path: Path) -> None:
    output = tmp_path / "web.json"

    call_command("asyncapi_part", output=output)

    assert ServicePart.model_validate_json(output.read_text()) == web_part()
