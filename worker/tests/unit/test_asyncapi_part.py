"""The worker's part of the AsyncAPI document says what its declarations and topology say."""

from __future__ import annotations

from pathlib import Path

from courier_worker.asyncapi_part import asyncapi_part
from courier_worker.cli import main
from courier_worker.handlers import declarations
from courier_worker.queues import QUEUES, routing_keys
from courier_worker.settings import DEFAULT_RETRY_DELAYS
from courier_worker.topology import consuming_queue, dead_letter_queue, delay_queue
from shared_contracts import ContractError
from shared_contracts.asyncapi import ServicePart


def test_every_handler_is_on_its_queue_with_the_queue_s_bindings() -> None:
    part = asyncapi_part()

    listed = {
        (handler.event_type, handler.handler, queue.name)
        for queue in part.consumes
        for handler in queue.handlers
    }
    assert listed == {(d.event_type, d.name, d.queue.name) for d in declarations()}
    for queue in part.consumes:
        spec = next(spec for spec in QUEUES if spec.name == queue.name)
        assert queue.bindings == routing_keys(spec)
        assert queue.arguments == consuming_queue(spec).queue_arguments


def test_side_queues_are_the_ones_the_worker_declares() -> None:
    for queue in asyncapi_part().consumes:
        spec = next(spec for spec in QUEUES if spec.name == queue.name)
        assert queue.dead_letters is not None
        assert queue.dead_letters.queue.name == dead_letter_queue(spec).name
        assert queue.retries is not None
        assert queue.retries.address == f"{spec.name}.delay.{{seconds}}s"
        assert [(d.name, d.seconds, d.arguments) for d in queue.retries.queues] == [
            (delay_queue(spec, s).name, s, delay_queue(spec, s).queue_arguments)
            for s in DEFAULT_RETRY_DELAYS
        ]


def test_every_dead_letter_reason_is_explained() -> None:
    (first, *_) = asyncapi_part().consumes
    assert first.dead_letters is not None
    reasons = first.dead_letters.reasons
    contract_reasons = {error.reason for error in ContractError.__subclasses__()}
    assert contract_reasons | {"handler-failed", "retries-exhausted"} <= set(reasons)
    assert all(reasons.values())


def test_the_command_writes_the_part_as_json(tmp_path: Path) -> None:
    output = tmp_path / "worker.json"

    assert main(["asyncapi-part", "--output", str(output)]) == 0

    assert ServicePart.model_validate_json(output.read_text()) == asyncapi_part()
