"""Celery's consumer, changed so that no message it cannot run is lost.

Stock Celery (``celery/worker/consumer/consumer.py``) treats the messages it
cannot turn into a task call like this:

* ``on_decode_error`` (body not decodable): logs and **acknowledges** the
  message, so it is gone;
* ``on_unknown_task`` (no task registered under the message's name) and
  ``on_unknown_message`` / ``on_invalid_task`` (not a task message, or a
  disallowed content type): rejects it without requeue, which our queues
  dead-letter, but with no word on why;
* a JSON body that is not an ``[args, kwargs, embed]`` triple raises out of
  the task strategy and takes the consumer down.

Each of these now publishes the message, unchanged, to its queue's
dead-letter queue with a reason header (``deadletter.py``) and then acks it.
If that publish fails, the message is rejected without requeue, so the
broker dead-letters it instead (the queues' ``x-dead-letter-exchange``):
either way it ends in the dead-letter queue, never in a redelivery loop.
Overriding these hooks (installed via ``worker_consumer``) keeps all of
Celery's own machinery for every good message.

The consumer also leaves out Celery's ``DelayedDelivery`` step (switched on
by quorum queues): it binds every task queue, by routing key, to a shared
``celery_delayed_delivery`` exchange, so a delayed message could reach the
queues of other services bound to the same event type. Delays (retries)
go through this worker's own delay queues instead (``QueueSpec.delay_queue``).
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import bootsteps, signals
from celery.utils.log import get_logger
from celery.worker.consumer import Consumer
from kombu.message import Message
from shared_contracts import UndecodableMessage, UnknownEventType
from shared_contracts.topology import CORRELATION_ID_HEADER
from vine import promise

from courier_worker.deadletter import DeadLetter, KombuDeadLetterPublisher
from courier_worker.metrics import metrics
from courier_worker.queue_markers import answer_marker
from courier_worker.queues import QUEUES, QueueSpec
from courier_worker.settings import get_settings
from courier_worker.topology import DEAD_LETTER_QUEUES, delay_queues, spec_for

log = structlog.get_logger(__name__)
_celery_logger = get_logger(__name__)

#: What a malformed (but decodable) body raises inside Celery's strategy.
_MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError)


class CourierConsumer(Consumer):
    """A Celery consumer that dead-letters, with a reason, every message it cannot run."""

    # Set by Celery at runtime (celery-types does not declare them).
    connection_errors: tuple[type[BaseException], ...]
    task_consumer: Any

    class Blueprint(Consumer.Blueprint):  # type: ignore[misc,valid-type]
        """Celery's consumer steps, without native delayed delivery (see the module doc)."""

        default_steps = [
            step
            for step in Consumer.Blueprint.default_steps
            if not step.endswith(":DelayedDelivery")
        ]

    def connection_for_write(self, url: str | None = None, heartbeat: float | None = None) -> Any:
        """The events connection (worker heartbeats, gossip), without publisher confirms.

        Celery publishes a worker-heartbeat event every 2 s from the event loop;
        with ``confirm_publish`` on (it is, for dead letters and retries) each
        waits for the broker's confirm without a time limit. A broker that stops
        answering without closing the connection (hung, frozen, behind a
        partition) then holds the loop, so the AMQP heartbeat check never runs
        and the worker never reconnects. Events are fire-and-forget anyway.
        """
        options = {**self.app.conf.broker_transport_options, "confirm_publish": False}
        return self.ensure_connected(
            self.app.connection_for_write(url=url, heartbeat=heartbeat, transport_options=options)
        )

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        self._dead_letter(message, UndecodableMessage.reason, f"cannot decode body: {exc}")

    def on_unknown_message(self, body: Any, message: Message) -> None:
        self._dead_letter(
            message, UndecodableMessage.reason, "not a Celery task message (no 'task' header)"
        )
        signals.task_rejected.send(sender=self, message=message, exc=None)

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        headers = message.headers or {}
        name = headers.get("task")
        self._dead_letter(
            message, UnknownEventType.reason, f"this worker has no handler for {name!r}"
        )
        signals.task_unknown.send(
            sender=self, message=message, exc=exc, name=name, id=headers.get("id")
        )

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        self._dead_letter(message, UndecodableMessage.reason, f"invalid task message: {exc}")
        signals.task_rejected.send(sender=self, message=message, exc=exc)

    def create_task_handler(self, promise: Any = promise) -> Any:
        handle = super().create_task_handler(promise)

        def on_task_received(message: Message) -> Any:
            # The queue exporter's markers (queue_markers.py) are answered, never run.
            if answer_marker(message, self.app, self.connection_errors):
                return None
            with structlog.contextvars.bound_contextvars(**_identity(message)):
                problem = _shape_problem(message)
                if problem:
                    return self._dead_letter(message, UndecodableMessage.reason, problem)
                try:
                    return handle(message)
                except _MALFORMED as exc:
                    # Celery unpacks the body in the consumer (``Request.__init__``);
                    # a JSON body of the wrong shape must not stop consumption.
                    return self._dead_letter(
                        message,
                        UndecodableMessage.reason,
                        f"body is not a Celery protocol v2 [args, kwargs, embed] triple: {exc!r}",
                    )

        return on_task_received

    def _dead_letter(self, message: Message, reason: str, detail: str) -> None:
        headers = dict(message.headers or {})
        source = self._source_queue(message)
        bound = log.bind(
            event_id=headers.get("id"),
            event_type=headers.get("task"),
            queue=source.name,
            reason=reason,
            detail=detail,
        )
        letter = DeadLetter(
            source=source,
            body=message.body if isinstance(message.body, bytes) else str(message.body).encode(),
            reason=reason,
            detail=detail,
            headers=headers,
            properties={
                "content_type": message.content_type,
                "content_encoding": message.content_encoding,
                **(message.properties or {}),
            },
        )
        try:
            KombuDeadLetterPublisher(self.app).publish(letter)
        except Exception:
            bound.exception("dead_letter.publish_failed")
            message.reject_log_error(_celery_logger, self.connection_errors, requeue=False)
            return
        message.ack_log_error(_celery_logger, self.connection_errors)
        metrics().dead_lettered(reason)
        bound.warning("event.dead_lettered")

    def _source_queue(self, message: Message) -> QueueSpec:
        delivery = message.delivery_info or {}
        tags = getattr(self.task_consumer, "_active_tags", {}) or {}
        by_tag = {tag: queue for queue, tag in tags.items()}
        queue = by_tag.get(delivery.get("consumer_tag"))
        return spec_for(queue) or spec_for(delivery.get("routing_key")) or QUEUES[0]


def _identity(message: Message) -> dict[str, Any]:
    """What the message says it is about, for the log lines written while it is received."""
    headers = message.headers if isinstance(message.headers, dict) else {}
    found = {
        "event_id": headers.get("id"),
        "event_type": headers.get("task"),
        "correlation_id": headers.get(CORRELATION_ID_HEADER),
    }
    return {key: str(value) for key, value in found.items() if value is not None}


def _shape_problem(message: Message) -> str | None:
    """Why a decodable protocol v2 body is not ``[args, kwargs, embed]``, if it is not.

    Celery decodes the body in the consumer anyway (kombu caches the result),
    but only unpacks it, so a JSON string of three characters would pass.
    Undecodable bodies are left to Celery, which calls ``on_decode_error``.
    """
    if not isinstance(message.headers, dict) or "task" not in message.headers:
        return None
    try:
        payload = message.payload
    except Exception:
        return None
    if (
        isinstance(payload, list | tuple)
        and len(payload) == 3
        and isinstance(payload[0], list | tuple)
        and isinstance(payload[1], dict)
        and (payload[2] is None or isinstance(payload[2], dict))
    ):
        return None
    return "body is not a Celery protocol v2 [args, kwargs, embed] triple"


class DeclareSideQueues(bootsteps.StartStopStep):
    """Consumer bootstep: (re)declare the dead-letter and delay queues on every connection.

    Nothing consumes them, so Celery would never declare them; without the
    dead-letter queues the broker would drop what it dead-letters. (A retry
    also declares its delay queue before publishing to it.)
    """

    requires = ("celery.worker.consumer.connection:Connection",)

    def start(self, consumer: Any) -> None:
        channel = consumer.connection.default_channel
        for queue in (*DEAD_LETTER_QUEUES, *delay_queues(get_settings().WORKER_RETRY_DELAYS)):
            queue(channel).declare()
