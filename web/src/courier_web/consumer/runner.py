"""The consuming loop: one connection, manual acks, prefetch, reconnection with backoff.

A message is acknowledged only after its transaction committed (or after its
dead letter was confirmed by the broker), so a consumer killed at any point
loses nothing: its unacknowledged messages go back to the queue, and the
record of consumed events makes their second delivery change nothing.
``stop`` (set on SIGTERM/SIGINT) ends the loop between two messages; the
message in hand is finished first and the prefetched ones are returned.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions
import structlog
from django.db import close_old_connections
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties
from shared_contracts.topology import DEAD_LETTER_DETAIL_HEADER, DEAD_LETTER_REASON_HEADER

from courier_web.consumer.processing import Outcome, Result, process
from courier_web.consumer.registry import periodics
from courier_web.consumer.topology import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    RESULTS_QUEUE,
    declare,
)
from courier_web.outbox.backoff import Backoff
from courier_web.outbox.broker import BrokerOptions, open_connection, redact_url

log = structlog.get_logger(__name__)

#: Header naming the queue a dead letter came from (as the worker's dead letters do).
SOURCE_QUEUE_HEADER = "x-courier-dead-letter-queue"
DEAD_LETTERED_AT_HEADER = "x-courier-dead-lettered-at"
MAX_DETAIL_CHARS = 1000
#: Seconds between two looks at ``stop`` while no message arrives.
IDLE_TICK = 0.5


class Consumer:
    """Consumes the web's queue until ``stop`` is set."""

    def __init__(
        self,
        options: BrokerOptions,
        *,
        stop: threading.Event,
        prefetch: int = 16,
        passive: bool = False,
        backoff: Backoff | None = None,
    ) -> None:
        self.options = options
        self.stop = stop
        self.prefetch = prefetch
        self.passive = passive
        self.backoff = backoff or Backoff(initial=0.5, maximum=30.0)
        #: Messages settled since the start (tests and logs).
        self.settled = 0
        #: When each housekeeping task is due next (``time.monotonic``).
        self._due: dict[str, float] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._session()
            except (pika.exceptions.AMQPError, OSError) as exc:
                delay = self.backoff.next_delay()
                log.warning(
                    "consumer.broker_unavailable",
                    broker=redact_url(self.options.url),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                    retry_in_seconds=round(delay, 2),
                )
                self.stop.wait(delay)
            except Exception:
                # Anything else that ends a session (a client library failing
                # otherwise than it documents, once its broker stops answering)
                # ends that session, not the process: unacknowledged messages
                # are redelivered to the next one. Logged with its traceback.
                delay = self.backoff.next_delay()
                log.exception("consumer.session_failed", retry_in_seconds=round(delay, 2))
                self.stop.wait(delay)
        log.info("consumer.stopped", settled=self.settled)

    def _session(self) -> None:
        connection = open_connection(self.options)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            declare(channel, passive=self.passive)
            channel.basic_qos(prefetch_count=self.prefetch)
            log.info("consumer.started", queue=RESULTS_QUEUE, prefetch=self.prefetch)
            self.backoff.reset()
            for method, properties, body in channel.consume(
                RESULTS_QUEUE, inactivity_timeout=IDLE_TICK
            ):
                if method is not None and properties is not None and body is not None:
                    self._deliver(channel, method, properties, body)
                self._housekeeping()
                if self.stop.is_set():
                    break
            channel.cancel()  # the prefetched messages go back to the queue
        finally:
            if connection.is_open:
                connection.close()

    def _housekeeping(self) -> None:
        """Run each ``@every`` task that is due; a failing one is logged and tried next time."""
        now = time.monotonic()
        for periodic in periodics():
            if now < self._due.get(periodic.name, 0.0):
                continue
            self._due[periodic.name] = now + periodic.seconds
            close_old_connections()
            try:
                periodic.task()
            except Exception:
                log.exception("consumer.housekeeping_failed", task=periodic.name)

    def _deliver(
        self,
        channel: BlockingChannel,
        method: Basic.Deliver,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        close_old_connections()  # a long-lived process: drop connections the database closed
        tag = method.delivery_tag
        assert tag is not None  # a delivery always has its tag
        try:
            result = process(body, properties.headers)
        except Exception:
            # Nothing was recorded: put it back. The quorum queue's delivery
            # limit dead-letters a message whose handler never succeeds.
            log.exception("event.handler_failed", redelivered=method.redelivered)
            channel.basic_nack(tag, requeue=True)
            self.stop.wait(self.backoff.next_delay())
            return
        if result.outcome is Outcome.DEAD_LETTERED:
            self._dead_letter(channel, properties, body, result)
        channel.basic_ack(tag)
        self.backoff.reset()
        self.settled += 1

    def _dead_letter(
        self, channel: BlockingChannel, properties: BasicProperties, body: bytes, result: Result
    ) -> None:
        """Publish the message, as it came, to the web's dead-letter queue with the reason."""
        headers: dict[str, Any] = {
            key: value
            for key, value in (properties.headers or {}).items()
            if key != "x-delivery-count"
        }
        headers.update(
            {
                DEAD_LETTER_REASON_HEADER: result.reason,
                DEAD_LETTER_DETAIL_HEADER: result.detail[:MAX_DETAIL_CHARS],
                SOURCE_QUEUE_HEADER: RESULTS_QUEUE,
                DEAD_LETTERED_AT_HEADER: datetime.now(UTC).isoformat(),
            }
        )
        # Confirmed (the channel is in confirm mode) and mandatory: returns only
        # once the broker holds the letter in its queue; the ack comes after.
        channel.basic_publish(
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=DEAD_LETTER_QUEUE,
            body=body,
            properties=pika.BasicProperties(
                headers=headers,
                content_type=properties.content_type or "application/octet-stream",
                content_encoding=properties.content_encoding or "binary",
                correlation_id=properties.correlation_id,
                message_id=properties.message_id,
                delivery_mode=pika.DeliveryMode.Persistent,
            ),
            mandatory=True,
        )
        log.warning("event.dead_lettered", reason=result.reason, detail=result.detail[:300])
