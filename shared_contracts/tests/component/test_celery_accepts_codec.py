"""A stock Celery worker consumes what the codec produces, published through pika.

This is the contract the whole design rests on: the web service publishes
with pika (no Celery), and the worker is plain Celery with its acks and
retries. If Celery ever stops accepting our messages, this fails first.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from kombu import Exchange, Queue
from shared_contracts import (
    CORRELATION_ID_HEADER,
    EVENTS_EXCHANGE,
    UserRegistered,
    encode,
    new_envelope,
    parse_envelope,
)

pytestmark = pytest.mark.component


@pytest.fixture
def received() -> queue.Queue[dict[str, Any]]:
    return queue.Queue()


@pytest.fixture
def celery_worker_on(broker_url: str, received: queue.Queue[dict[str, Any]]) -> Iterator[str]:
    queue_name = f"contracts-test-{uuid.uuid4().hex[:8]}"
    app = Celery("contracts-test", broker=broker_url, set_as_current=False)
    app.conf.update(
        accept_content=["json"],
        task_acks_late=True,
        task_queues=[
            Queue(
                queue_name,
                Exchange(EVENTS_EXCHANGE, type="topic", durable=True),
                routing_key="user.registered.v1",
                auto_delete=True,
            )
        ],
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )

    @app.task(name="user.registered.v1", bind=True)
    def on_registered(self: Any, event: dict[str, Any]) -> None:
        received.put(
            {
                "event": event,
                "task_id": self.request.id,
                "correlation_id": getattr(self.request, CORRELATION_ID_HEADER, None),
            }
        )

    with start_worker(
        app, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=30
    ):
        yield queue_name


def _publish(broker_url: str, message: Any) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange=message.exchange,
            routing_key=message.routing_key,
            body=message.body,
            properties=pika.BasicProperties(**message.amqp_properties()),
            mandatory=True,
        )
    finally:
        connection.close()


def test_celery_runs_the_task_named_by_the_event_type(
    broker_url: str, celery_worker_on: str, received: queue.Queue[dict[str, Any]]
) -> None:
    envelope = new_envelope(
        UserRegistered(user_id=42, email="ada@example.com", display_name="Ada"),
        producer="courier-web",
        correlation_id="req-celery-accepts",
    )

    _publish(broker_url, encode(envelope))
    call = received.get(timeout=30)

    assert call["task_id"] == str(envelope.event_id)
    assert parse_envelope(call["event"]) == envelope
    assert call["correlation_id"] == "req-celery-accepts"
    assert received.empty()
