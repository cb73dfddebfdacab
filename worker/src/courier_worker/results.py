"""The result events the worker emits (report.completed.v1, document.failed.v1...).

A result is published to ``courier.events`` like any event, with publisher
confirms, while the handler that made it runs: the idempotency record of the
request is committed only after the broker has the result, so a crash in
between publishes it again on redelivery. Its event id is derived from the
request's event id and the result's type, so that a result published twice
is the same event twice, which its consumer (the web) applies once.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from celery import Celery
from shared_contracts import Envelope, Event, encode, new_envelope

__all__ = [
    "KombuResultPublisher",
    "ResultPublisher",
    "publications",
    "publishes",
    "result_envelope",
]

PRODUCER = "courier-worker"


#: Result event type -> the event types whose handling publishes it.
_publications: dict[str, set[str]] = {}


def publishes(*results: type[Event], on: type[Event]) -> None:
    """Declare that handling ``on`` publishes ``results`` (the AsyncAPI document and the
    broker permissions the tests check are read from these declarations)."""
    for result in results:
        _publications.setdefault(result.event_type, set()).add(on.event_type)


def publications() -> dict[str, tuple[str, ...]]:
    """Every result event type the worker publishes, with what makes it, sorted."""
    return {key: tuple(sorted(causes)) for key, causes in sorted(_publications.items())}


class ResultPublisher(Protocol):
    """Publishes result events; returns only once the broker has them."""

    def publish(self, envelope: Envelope[Any]) -> None: ...


def result_envelope(payload: Event, *, cause: Envelope[Any]) -> Envelope[Event]:
    """``payload`` as the result of ``cause``: same correlation id, an event id of its own
    that is the same each time ``cause`` is handled."""
    return new_envelope(
        payload,
        producer=PRODUCER,
        correlation_id=cause.correlation_id,
        event_id=uuid.uuid5(cause.event_id, payload.event_type),
    )


class KombuResultPublisher:
    """Publishes through the Celery app's producer pool (publisher confirms are on)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish(self, envelope: Envelope[Any]) -> None:
        wire = encode(envelope, origin=PRODUCER)
        with self.app.producer_or_acquire() as producer:
            # With ``confirm_publish`` (broker_transport_options) publish() returns
            # only after the broker's ack and raises on a nack.
            producer.publish(
                wire.body,
                exchange=wire.exchange,
                routing_key=wire.routing_key,
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
                **wire.amqp_properties(),
            )
