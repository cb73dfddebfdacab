"""Publishing encoded events with confirms; the outcome is a value, never an exception.

``Publisher`` is the interface ``publishing.py`` uses; ``PikaPublisher`` is the
real one (it owns one pika ``BlockingConnection`` and so belongs to one thread),
tests use a fake with the same methods.

``publish_many`` is the fast path: it publishes a whole batch with ``mandatory``
before waiting, then collects the broker's acks/nacks (``multiple`` ones too)
and returns, bounded by ``BrokerOptions.confirm_timeout``. pika's
``BlockingChannel.confirm_delivery()`` would make every ``basic_publish`` wait
for its own confirm, so confirms are enabled on the underlying channel with a
callback instead. A returned message (no queue bound) is followed by its ack:
the return arrives first and is matched by ``message_id`` (the event id).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import pika
import pika.exceptions
import pika.spec
import structlog
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.delivery_mode import DeliveryMode
from shared_contracts import EVENTS_EXCHANGE, WireMessage

from courier_web.outbox.broker import BrokerOptions, open_connection

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

    def publish_many(self, messages: Sequence[WireMessage]) -> list[PublishResult]:
        """Publish every message with ``mandatory``, then wait (bounded) for all confirms.

        One result per message, in order; anything unconfirmed when the wait
        ends (timeout, connection lost) is ``FAILED``, never ``CONFIRMED``.
        """
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
        # Delivery tags count the publishes on the current channel, from 1.
        self._next_tag = 1
        # The batch being confirmed: delivery tag -> index, and the results so far.
        self._batch: Sequence[WireMessage] = ()
        self._unconfirmed: dict[int, int] = {}
        self._results: list[PublishResult | None] = []
        self._returned: dict[str, str] = {}  # message_id -> "312 NO_ROUTE"
        self._waiting = False

    def _ensure_channel(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self.close()
        connection = open_connection(self.options)
        try:
            channel = connection.channel()
            # The producer owns the exchange; it never declares queues.
            channel.exchange_declare(
                EVENTS_EXCHANGE,
                exchange_type="topic",
                durable=True,
                passive=self.options.passive_exchange,
            )
            self._enable_confirms(connection, channel)
        except BaseException:
            _close_quietly(connection)
            raise
        self._connection, self._channel = connection, channel
        self._next_tag = 1
        return channel

    def _enable_confirms(self, connection: BlockingConnection, channel: BlockingChannel) -> None:
        """Confirm mode on the underlying channel: acks/nacks and returns come to callbacks.

        Both callbacks run on pika's I/O loop in the order the frames arrive, so
        a message's ``basic.return`` is seen before its ``basic.ack``.
        """
        selected: list[bool] = []

        def on_select_ok(_frame: Any) -> None:
            selected.append(True)
            connection.add_callback_threadsafe(_wake)

        # BlockingChannel has no public asynchronous confirms: use the channel it wraps.
        impl: Any = cast(Any, channel)._impl
        impl.confirm_delivery(ack_nack_callback=self._on_confirm, callback=on_select_ok)
        impl.add_on_return_callback(self._on_return)
        deadline = time.monotonic() + self.options.connect_timeout * 2
        while not selected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise pika.exceptions.AMQPChannelError("no Confirm.SelectOk from the broker")
            connection.process_data_events(time_limit=remaining)

    def _on_return(
        self,
        _channel: Any,
        method: pika.spec.Basic.Return,
        properties: pika.spec.BasicProperties,
        _body: bytes,
    ) -> None:
        if properties.message_id:
            self._returned[properties.message_id] = f"{method.reply_code} {method.reply_text}"
        else:  # every outbox message has one (its event id); nothing to match it to
            log.warning("outbox.return_without_message_id", reply_code=method.reply_code)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        tag = method.delivery_tag
        if method.multiple:
            # Tags are inserted in increasing order: everything up to ``tag``.
            tags = []
            for pending in self._unconfirmed:
                if pending > tag:
                    break
                tags.append(pending)
        else:
            tags = [tag] if tag in self._unconfirmed else []
        for done in tags:
            index = self._unconfirmed.pop(done)
            self._results[index] = self._outcome(self._batch[index], acked)
        if self._waiting and not self._unconfirmed and self._connection is not None:
            # Impl callbacks do not end process_data_events(); this does, at once.
            self._connection.add_callback_threadsafe(_wake)

    def _outcome(self, message: WireMessage, acked: bool) -> PublishResult:
        reason = self._returned.pop(message.message_id, None) if message.message_id else None
        if not acked:
            return PublishResult(Outcome.FAILED, "the broker nacked the message")
        if reason is not None:
            return PublishResult(Outcome.RETURNED, _describe_return(reason, message))
        return CONFIRMED

    def publish(self, message: WireMessage) -> PublishResult:
        return self.publish_many([message])[0]

    def publish_many(self, messages: Sequence[WireMessage]) -> list[PublishResult]:
        if not messages:
            return []
        results: list[PublishResult | None] = [None] * len(messages)
        self._batch, self._results, self._unconfirmed, self._returned = messages, results, {}, {}
        failure: PublishResult | None = None
        try:
            channel = self._ensure_channel()
            connection = self._connection
            assert connection is not None
            # The underlying channel queues each frame; the batch leaves in a few
            # socket writes when the wait below runs the I/O loop. (The blocking
            # wrapper's ``basic_publish`` flushes the socket once per message,
            # which cost the relay half its throughput: docs/performance.md.)
            impl: Any = cast(Any, channel)._impl
            for index, message in enumerate(messages):
                self._unconfirmed[self._next_tag] = index
                self._next_tag += 1
                impl.basic_publish(
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    body=message.body,
                    properties=_properties(message),
                    mandatory=True,
                )
            self._waiting = True
            deadline = time.monotonic() + self.options.confirm_timeout
            while self._unconfirmed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    # The connection stays: closing it would wait for a blocked
                    # broker (pika's blocked_connection_timeout ends that). Late
                    # confirms carry this batch's tags, never a later batch's.
                    failure = PublishResult(
                        Outcome.FAILED,
                        f"no confirm from the broker within {self.options.confirm_timeout:g}s",
                    )
                    break
                connection.process_data_events(time_limit=remaining)
        except Exception as exc:  # connection refused/lost/blocked, channel closed...
            failure = PublishResult(Outcome.FAILED, _describe(exc))
            self.close()
        finally:
            self._waiting = False
            self._batch, self._results, self._unconfirmed, self._returned = (), [], {}, {}
        fallback = failure or PublishResult(Outcome.FAILED, "no confirm from the broker")
        return [result if result is not None else fallback for result in results]

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


def _properties(message: WireMessage) -> pika.BasicProperties:
    """The codec's AMQP properties, as pika takes them."""
    properties = message.amqp_properties()
    # Only 2 means persistent to the broker; anything else is sent as transient.
    properties["delivery_mode"] = _delivery_mode(properties["delivery_mode"])
    # An empty id is no id: pika would send an empty property rather than none.
    for name in ("correlation_id", "message_id"):
        properties[name] = properties[name] or None
    return pika.BasicProperties(**properties)


def _wake() -> None:
    """Queued on the connection so a waiting ``process_data_events`` returns."""


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


def _describe_return(reason: str, message: WireMessage) -> str:
    return (
        f"unroutable: {reason}: no queue is bound to exchange {message.exchange!r} "
        f"for routing key {message.routing_key!r}"
    )
