"""The worker's part of the system's AsyncAPI document, read from its declarations.

``courier-worker asyncapi-part`` prints it; ``make asyncapi`` composes it with
the web's into the document (``shared_contracts.asyncapi``). Everything here
is derived: the queues and their bindings from the handler declarations
(``topology``), the side queues from the same functions that declare them,
the dead-letter reasons from the contracts' errors and the worker's own.
The delay tiers and retry count are the defaults (``WORKER_RETRY_DELAYS``,
``WORKER_MAX_RETRIES``), not this environment's: the document is committed.
"""

from __future__ import annotations

from typing import Any

from kombu import Queue as KombuQueue
from shared_contracts import DEAD_LETTER_EXCHANGE, DEAD_LETTER_REASON_HEADER, ContractError
from shared_contracts.asyncapi import (
    ConsumingQueue,
    DeadLetters,
    DelayQueue,
    Handler,
    Publication,
    Queue,
    Retries,
    ServicePart,
)
from shared_contracts.topology import DEAD_LETTER_DETAIL_HEADER

from courier_worker.deadletter import DEAD_LETTERED_AT_HEADER, HANDLER_FAILED, SOURCE_QUEUE_HEADER
from courier_worker.handlers import declarations
from courier_worker.queues import QUEUES, QueueSpec, routing_keys
from courier_worker.results import publications
from courier_worker.retry import RETRIES_EXHAUSTED, RETRIES_HEADER
from courier_worker.settings import DEFAULT_RETRY_DELAYS, Settings
from courier_worker.topology import consuming_queue, dead_letter_queue, delay_queue

__all__ = ["SERVICE", "asyncapi_part"]

SERVICE = "courier-worker"

#: Stands for the tier in a delay queue's name, to read the names' pattern off ``QueueSpec``.
_TIER_PLACEHOLDER = 918_273_645

_DEAD_LETTER_HEADERS = {
    DEAD_LETTER_DETAIL_HEADER: "What went wrong, for people (at most 1000 characters).",
    SOURCE_QUEUE_HEADER: "The queue the message came from (where a requeue sends it back).",
    DEAD_LETTERED_AT_HEADER: "When the worker dead-lettered it (ISO 8601, UTC).",
}


def asyncapi_part() -> ServicePart:
    """What the worker consumes, on which queues, and where its retries and dead letters go."""
    by_queue: dict[str, list[Handler]] = {}
    for declaration in declarations():
        by_queue.setdefault(declaration.queue.name, []).append(
            Handler(
                event_type=declaration.event_type,
                handler=declaration.name,
                transient=tuple(f"{t.__module__}.{t.__qualname__}" for t in declaration.transient),
            )
        )
    return ServicePart(
        service=SERVICE,
        description=(
            "The Celery worker service: handles events idempotently on its own quorum "
            "queues, retries transient failures through delay queues, dead-letters the rest."
        ),
        consumes=tuple(
            _consuming(spec, by_queue.get(spec.name, [])) for spec in QUEUES if routing_keys(spec)
        ),
        # Result events, published while handling a request (``results.publishes``).
        publishes=tuple(
            Publication(event_type=event_type, triggers=tuple(f"handling {c}" for c in causes))
            for event_type, causes in publications().items()
        ),
    )


def _consuming(spec: QueueSpec, handlers: list[Handler]) -> ConsumingQueue:
    queue = consuming_queue(spec)
    return ConsumingQueue(
        name=spec.name,
        description=(
            "A durable quorum queue of the worker, bound to `courier.events` by the event types "
            "of the handlers declared on it; a message delivered more than `x-delivery-limit` "
            "times is dead-lettered by the broker."
        ),
        arguments=_arguments(queue),
        bindings=routing_keys(spec),
        handlers=tuple(sorted(handlers, key=lambda h: h.event_type)),
        dead_letters=DeadLetters(
            queue=_side_queue(dead_letter_queue(spec)),
            exchange=DEAD_LETTER_EXCHANGE,
            description=(
                f"What {spec.name} could not handle, with why: invalid messages, permanent "
                "failures, exhausted retries (published by the worker with the reason headers), "
                "and messages the broker dead-lettered (`x-death`, no reason header). "
                "`courier-worker dead-letters list` shows them, `dead-letters requeue` sends "
                "them back."
            ),
            headers=dict(_DEAD_LETTER_HEADERS),
            reason_header=DEAD_LETTER_REASON_HEADER,
            reasons=_dead_letter_reasons(),
        ),
        retries=_retries(spec),
    )


def _retries(spec: QueueSpec) -> Retries:
    default_max = Settings.model_fields["WORKER_MAX_RETRIES"].default
    return Retries(
        address=spec.delay_queue(_TIER_PLACEHOLDER).replace(str(_TIER_PLACEHOLDER), "{seconds}"),
        queues=tuple(
            DelayQueue(name=queue.name, arguments=_arguments(queue), seconds=seconds)
            for seconds in DEFAULT_RETRY_DELAYS
            for queue in [delay_queue(spec, seconds)]
        ),
        header=RETRIES_HEADER,
        max_retries=default_max,
        description=(
            f"Transient failures of {spec.name}: a copy of the message (its `{RETRIES_HEADER}` "
            "header one higher) is published through the default exchange to the delay queue "
            "of its tier, which has no consumer; when its TTL expires the broker dead-letters "
            f"it back to {spec.name}. Backoff with full jitter, rounded down to a tier "
            f"(`WORKER_RETRY_DELAYS`, default {', '.join(map(str, DEFAULT_RETRY_DELAYS))} s); "
            f"after `WORKER_MAX_RETRIES` (default {default_max}) it is dead-lettered."
        ),
    )


def _side_queue(queue: KombuQueue) -> Queue:
    return Queue(name=queue.name, arguments=_arguments(queue))


def _arguments(queue: KombuQueue) -> dict[str, Any]:
    return dict(sorted((queue.queue_arguments or {}).items()))


def _dead_letter_reasons() -> dict[str, str]:
    reasons = {error.reason: (error.__doc__ or "").strip() for error in _subclasses(ContractError)}
    reasons[HANDLER_FAILED] = "The handler failed for good (e.g. an SMTP 5xx): no retry can help."
    reasons[RETRIES_EXHAUSTED] = "Every retry of a transient failure failed; the last error."
    return dict(sorted(reasons.items()))


def _subclasses(cls: type[ContractError]) -> list[type[ContractError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found
