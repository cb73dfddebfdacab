"""Publishing one encoded event with confirms; the outcome is a value, never an exception.

``Publisher`` is the interface the outbox services use; ``PikaPublisher`` is the
real one (it owns one pika ``BlockingConnection`` and so belongs to one thread),
tests use a fake with the same three methods.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

import pika
import pika.exceptions
import structlog
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.delivery_mode import DeliveryMode
from shared_contracts import EVENTS_EXCHANGE, WireMessage

from courier_web.outbox.broker import BrokerOptions, connection_parameters

log = structlog.get_logger(__name__)


class Outcome(enum.Enum):
    CONFIRMED = "confirmed"  # the broker took responsibility: mark sent
    RETURNED = "returned"  # no queue is bound for it: mark failed, do not retry
    FAILED = "failed"  # nack, connection trouble: stays pending, retried later


@dataclass(frozen=True)
class PublishResult:
    outcome: Outcome
    detail: str = ""


CONFIRMED = PublishResult(Outcome.CONFIRMED)


class Publisher(Protocol):
    """Publishes encoded events; owned by one thread."""

    def publish(self, message: WireMessage) -> PublishResult:
        """Publish with ``mandatory`` and wait for the broker's confirm."""
        ...

    def connect(self) -> str | None:
        """Make sure a connection is open; None when it is, else what went wrong."""
        ...

    def idle(self) -> None:
        """Let the connection breathe (heartbeats) while there is nothing to send."""
        ...

    def close(self) -> None: ...


class PikaPublisher:
    """The real publisher: pika, publisher confirms, ``mandatory=True``."""

    def __init__(self, options: BrokerOptions) -> None:
        self.options = options
        self._connection: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _ensure_channel(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self.close()
        connection = pika.BlockingConnection(connection_parameters(self.options))
        try:
            channel = connection.channel()
            # The producer owns the exchange; it never declares queues.
            channel.exchange_declare(
                EVENTS_EXCHANGE,
                exchange_type="topic",
                durable=True,
                passive=self.options.passive_exchange,
            )
            channel.confirm_delivery()
        except BaseException:
            _close_quietly(connection)
            raise
        self._connection, self._channel = connection, channel
        return channel

    def publish(self, message: WireMessage) -> PublishResult:
        try:
            channel = self._ensure_channel()
            channel.basic_publish(
                exchange=message.exchange,
                routing_key=message.routing_key,
                body=message.body,
                properties=pika.BasicProperties(
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode=_delivery_mode(message.delivery_mode),
                    correlation_id=message.correlation_id or None,
                    message_id=message.message_id or None,
                    headers=dict(message.headers),
                    **dict(message.properties),
                ),
                mandatory=True,
            )
        except pika.exceptions.UnroutableError as exc:
            return PublishResult(Outcome.RETURNED, _describe_returned(exc, message))
        except pika.exceptions.NackError:
            return PublishResult(Outcome.FAILED, "the broker nacked the message")
        except Exception as exc:  # connection refused/lost/blocked, channel closed...
            self.close()
            return PublishResult(Outcome.FAILED, _describe(exc))
        return CONFIRMED

    def connect(self) -> str | None:
        try:
            self._ensure_channel()
        except Exception as exc:
            self.close()
            return _describe(exc)
        return None

    def idle(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.process_data_events(time_limit=0)
        except Exception:
            self.close()

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            _close_quietly(connection)


def _delivery_mode(value: int) -> DeliveryMode:
    return (
        DeliveryMode.Persistent
        if value == DeliveryMode.Persistent.value
        else DeliveryMode.Transient
    )


def _close_quietly(connection: BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except Exception:  # already broken; nothing to tell
        log.debug("outbox.connection_close_failed", exc_info=True)


def _describe(exc: BaseException) -> str:
    name, text = type(exc).__name__, str(exc) or repr(exc)
    return (text if text.startswith(name) else f"{name}: {text}")[:500]


def _describe_returned(exc: pika.exceptions.UnroutableError, message: WireMessage) -> str:
    reasons: list[str] = []
    for returned in exc.messages:
        method: Any = returned.method
        reasons.append(f"{method.reply_code} {method.reply_text}")
    reason = ", ".join(reasons) or "returned"
    return (
        f"unroutable: {reason}: no queue is bound to exchange {message.exchange!r} "
        f"for routing key {message.routing_key!r}"
    )
