"""Marker messages: what the queue exporter publishes and how a worker answers one.

A marker is not a task: a small JSON body with the AMQP ``type``
``courier.queue-age-marker`` and a ``reply_to`` naming the exporter's own
reply queue. The worker's consumer recognises it before Celery sees it,
publishes the body unchanged to ``reply_to`` (through the default exchange)
and acknowledges it: no handler runs, nothing is recorded, no log line
unless answering fails. The answer tells the exporter that the marker, and
so everything queued before it, has left the queue (``queue_age.py``).

Only reply queues named ``courier.worker.queue-age.*`` are answered, so a
marker cannot make the worker publish into another queue, and only small
bodies are echoed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import structlog
from celery import Celery
from celery.utils.log import get_logger
from kombu.message import Message

log = structlog.get_logger(__name__)
_celery_logger = get_logger(__name__)

MARKER_TYPE = "courier.queue-age-marker"
REPLY_QUEUE_PREFIX = "courier.worker.queue-age."
MAX_MARKER_BYTES = 1024
#: Seconds an answer may take to be written and confirmed before it is given up.
ANSWER_TIMEOUT = 2.0


@dataclass(frozen=True)
class MarkerBody:
    """What a marker carries: who sent it, to which queue, its number and when."""

    exporter: str
    queue: str
    sequence: int
    published_at: float

    def encode(self) -> bytes:
        return json.dumps(
            {
                "exporter": self.exporter,
                "queue": self.queue,
                "sequence": self.sequence,
                "published_at": self.published_at,
            }
        ).encode()

    @classmethod
    def decode(cls, body: bytes | str) -> MarkerBody | None:
        """The marker in ``body``, or None when it is not one."""
        try:
            data = json.loads(body)
            return cls(
                exporter=str(data["exporter"]),
                queue=str(data["queue"]),
                sequence=int(data["sequence"]),
                published_at=float(data["published_at"]),
            )
        except (ValueError, TypeError, KeyError):
            return None


def is_marker(message: Message) -> bool:
    properties = message.properties or {}
    return bool(properties.get("type") == MARKER_TYPE)


def answer_marker(message: Message, app: Celery, connection_errors: tuple[Any, ...] = ()) -> bool:
    """Answer and acknowledge ``message`` if it is a marker; False (untouched) if it is not.

    A failed answer is logged and the marker acknowledged all the same: the
    exporter's next marker measures again, while a requeued marker would only
    come back to this consumer.
    """
    if not is_marker(message):
        return False
    reply_to = str((message.properties or {}).get("reply_to") or "")
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    if reply_to.startswith(REPLY_QUEUE_PREFIX) and len(body) <= MAX_MARKER_BYTES:
        try:
            with app.producer_or_acquire() as producer:
                producer.publish(
                    body,
                    exchange="",
                    routing_key=reply_to,
                    content_type="application/json",
                    content_encoding="utf-8",
                    type=MARKER_TYPE,
                    retry=False,
                    # This runs in the consumer's event loop: never wait long for a confirm.
                    timeout=ANSWER_TIMEOUT,
                    confirm_timeout=ANSWER_TIMEOUT,
                )
        except Exception as exc:
            log.warning("queue_age.answer_failed", reply_to=reply_to, error=repr(exc)[:300])
    else:
        log.warning("queue_age.marker_refused", reply_to=reply_to[:200], size=len(body))
    message.ack_log_error(_celery_logger, connection_errors)
    return True


__all__ = [
    "MARKER_TYPE",
    "REPLY_QUEUE_PREFIX",
    "MarkerBody",
    "answer_marker",
    "is_marker",
]
