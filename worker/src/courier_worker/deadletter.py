"""Dead letters: messages the worker will not (or can no longer) handle, kept with the reason.

A dead letter is the original message (body, headers, properties) plus two
headers, ``x-courier-dead-letter-reason`` (a ``ContractError.reason`` or one
of the worker's own reasons below) and ``x-courier-dead-letter-detail``,
published to the dead-letter exchange with publisher confirms, routed to the
dead-letter queue of the queue it came from. Only then is the original
acknowledged, so a failure to publish loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from celery import Celery
from shared_contracts import ContractError, WireMessage
from shared_contracts.topology import (
    DEAD_LETTER_DETAIL_HEADER,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_REASON_HEADER,
)

from courier_worker.queues import QueueSpec
from courier_worker.topology import dead_letter_queue

#: The handler failed permanently (e.g. SMTP 5xx for a bad recipient): no retry can help.
#: (Transient failures are retried; once exhausted their reason is ``retries-exhausted``.)
HANDLER_FAILED = "handler-failed"
#: Header naming the queue a dead letter came from (where a requeue sends it back).
SOURCE_QUEUE_HEADER = "x-courier-dead-letter-queue"
#: Header with the time (ISO 8601, UTC) the worker dead-lettered the message.
DEAD_LETTERED_AT_HEADER = "x-courier-dead-lettered-at"
#: The properties of the original message that travel with its dead letter.
KEPT_PROPERTIES = ("content_type", "content_encoding", "correlation_id", "message_id", "priority")
MAX_DETAIL_CHARS = 1000
#: Headers the broker sets on delivery; meaningless on a new message.
_BROKER_HEADERS = frozenset({"x-delivery-count"})


@dataclass(frozen=True)
class DeadLetter:
    """One refused message, as it arrived, with why it was refused."""

    source: QueueSpec
    body: bytes
    reason: str
    detail: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)

    def publish_headers(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.headers.items() if k not in _BROKER_HEADERS},
            DEAD_LETTER_REASON_HEADER: self.reason,
            DEAD_LETTER_DETAIL_HEADER: self.detail[:MAX_DETAIL_CHARS],
            SOURCE_QUEUE_HEADER: self.source.name,
            DEAD_LETTERED_AT_HEADER: datetime.now(UTC).isoformat(),
        }

    def wire(self) -> WireMessage:
        """The letter as published: to the dead-letter exchange, routed to its queue's letters.

        It keeps the original's content type and encoding (or says it is
        opaque bytes), ``correlation_id``, ``message_id`` and ``priority``.
        """
        kept = {
            key: value
            for key, value in self.properties.items()
            if key in KEPT_PROPERTIES and value is not None
        }
        kept["content_type"] = kept.get("content_type") or "application/octet-stream"
        kept["content_encoding"] = kept.get("content_encoding") or "binary"
        return WireMessage.from_amqp(
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=self.source.dead_letter_queue,
            body=self.body,
            headers=self.publish_headers(),
            properties=kept,
        )


class DeadLetterPublisher(Protocol):
    """Publishes dead letters; returns only once the broker has them."""

    def publish(self, letter: DeadLetter) -> None: ...


def classify(exc: BaseException) -> tuple[str, str]:
    """The dead-letter reason and detail for ``exc``."""
    if isinstance(exc, ContractError):
        return exc.reason, str(exc)
    return HANDLER_FAILED, f"{type(exc).__name__}: {exc}"


class KombuDeadLetterPublisher:
    """Publishes through the Celery app's producer pool (publisher confirms are on)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish(self, letter: DeadLetter) -> None:
        wire = letter.wire()
        with self.app.producer_or_acquire() as producer:
            # With ``confirm_publish`` (broker_transport_options) publish() returns
            # only after the broker's ack and raises on a nack.
            producer.publish(
                wire.body,
                exchange=wire.exchange,
                routing_key=wire.routing_key,
                declare=[dead_letter_queue(letter.source)],
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
                **wire.amqp_properties(),
            )
