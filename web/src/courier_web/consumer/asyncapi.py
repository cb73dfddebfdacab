"""The web's consuming queue in the system's AsyncAPI document, read from its declarations."""

from __future__ import annotations

from shared_contracts import DEAD_LETTER_REASON_HEADER, ContractError
from shared_contracts.asyncapi import ConsumingQueue, DeadLetters, Handler, Queue
from shared_contracts.topology import DEAD_LETTER_DETAIL_HEADER

from courier_web.consumer.registry import consumptions
from courier_web.consumer.runner import DEAD_LETTERED_AT_HEADER, SOURCE_QUEUE_HEADER
from courier_web.consumer.topology import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    RESULTS_QUEUE,
    queue_arguments,
    routing_keys,
)


def consuming_queues() -> tuple[ConsumingQueue, ...]:
    """The web's result queue, its handlers and its dead letters (none without a handler)."""
    if not consumptions():
        return ()
    return (
        ConsumingQueue(
            name=RESULTS_QUEUE,
            description=(
                "The web's own quorum queue, bound to `courier.events` by the result events "
                "it consumes (`courier-web consume_events`): each is applied once, in the "
                "transaction that records its event id."
            ),
            arguments=dict(sorted(queue_arguments().items())),
            bindings=routing_keys(),
            handlers=tuple(
                Handler(event_type=consumption.event_type, handler=consumption.name)
                for consumption in consumptions()
            ),
            dead_letters=DeadLetters(
                queue=Queue(name=DEAD_LETTER_QUEUE, arguments={"x-queue-type": "quorum"}),
                exchange=DEAD_LETTER_EXCHANGE,
                description=(
                    "Messages the web refused (they break the contracts), with the reason, "
                    "and those the broker dead-lettered after the delivery limit."
                ),
                headers={
                    DEAD_LETTER_DETAIL_HEADER: "What went wrong, for people (at most 1000 "
                    "characters).",
                    SOURCE_QUEUE_HEADER: "The queue the message came from.",
                    DEAD_LETTERED_AT_HEADER: "When the web dead-lettered it (ISO 8601, UTC).",
                },
                reason_header=DEAD_LETTER_REASON_HEADER,
                reasons={
                    error.reason: (error.__doc__ or "").strip()
                    for error in sorted(_subclasses(ContractError), key=lambda e: e.reason)
                },
            ),
        ),
    )


def _subclasses(cls: type[ContractError]) -> list[type[ContractError]]:
    found: list[type[ContractError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found
