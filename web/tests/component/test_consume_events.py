"""``consume_events`` against the real RabbitMQ: applies results once, dead-letters the invalid,
survives the broker going away, and stops cleanly."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pika
import pytest
from shared_contracts import encode, new_envelope
from shared_contracts.events.reports import ReportCompleted
from shared_contracts.topology import DEAD_LETTER_REASON_HEADER

from courier_web.consumer.models import ConsumedEvent
from courier_web.consumer.runner import Consumer
from courier_web.consumer.topology import DEAD_LETTER_QUEUE, RESULTS_QUEUE
from courier_web.outbox.backoff import Backoff
from courier_web.outbox.broker import BrokerOptions
from courier_web.reports.models import Report
from courier_web.users.models import User
from tests.component.conftest import eventually

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def consumer(broker_settings: str) -> Iterator[Consumer]:
    stop = threading.Event()
    running = Consumer(
        BrokerOptions(url=broker_settings, connection_name="test-consumer"),
        stop=stop,
        prefetch=4,
        backoff=Backoff(initial=0.1, maximum=0.5),
    )
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the consumer did not stop within 10 s of being asked"


def publish(url: str, body: bytes, headers: dict[str, Any], routing_key: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            "courier.events",
            routing_key,
            body,
            pika.BasicProperties(headers=headers, content_type="application/json"),
            mandatory=True,
        )
    finally:
        connection.close()


def queue_depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def pending_report() -> Report:
    user = User.objects.create_user(email=f"{uuid.uuid4().hex[:8]}@example.com", password=None)
    return Report.objects.create(
        requested_by=user, kind="signups", date_from=date(2026, 3, 1), date_to=date(2026, 3, 2)
    )


def completed(report: Report) -> Any:
    return new_envelope(
        ReportCompleted(
            report_id=report.pk,
            reference=f"reports/{report.pk}.csv",
            row_count=3,
            size_bytes=10,
            sha256=hashlib.sha256(b"x").hexdigest(),
        ),
        producer="courier-worker",
        correlation_id="req-c",
    )


def test_a_result_is_applied_once_however_often_it_is_delivered(
    consumer: Consumer, broker_settings: str
) -> None:
    assert eventually(lambda: _declared(broker_settings))
    report = pending_report()
    message = encode(completed(report))
    for _ in range(3):
        publish(broker_settings, message.body, dict(message.headers), message.routing_key)
    assert eventually(lambda: consumer.settled >= 3)
    report.refresh_from_db()
    assert report.status == Report.Status.COMPLETED
    assert report.row_count == 3
    assert ConsumedEvent.objects.count() == 1
    assert queue_depth(broker_settings, RESULTS_QUEUE) == 0


def test_an_invalid_result_is_dead_lettered_with_its_reason(
    consumer: Consumer, broker_settings: str
) -> None:
    assert eventually(lambda: _declared(broker_settings))
    publish(broker_settings, b"not json at all", {}, "report.completed.v1")
    assert eventually(lambda: queue_depth(broker_settings, DEAD_LETTER_QUEUE) >= 1)
    connection = pika.BlockingConnection(pika.URLParameters(broker_settings))
    try:
        method, properties, body = connection.channel().basic_get(DEAD_LETTER_QUEUE, auto_ack=True)
    finally:
        connection.close()
    assert method is not None
    assert body == b"not json at all"
    assert properties.headers[DEAD_LETTER_REASON_HEADER] == "undecodable"
    assert queue_depth(broker_settings, RESULTS_QUEUE) == 0


def _declared(url: str) -> bool:
    try:
        queue_depth(url, RESULTS_QUEUE)
    except pika.exceptions.ChannelClosedByBroker:
        return False
    return True


def _consumers(url: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        declared = connection.channel().queue_declare(RESULTS_QUEUE, passive=True)
        return int(declared.method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    finally:
        if connection.is_open:
            connection.close()


def test_the_consumer_waits_for_a_broker_that_is_not_there() -> None:
    stop = threading.Event()
    consumer = Consumer(
        BrokerOptions(url="amqp://guest:guest@127.0.0.1:1/%2F", connect_timeout=0.2),
        stop=stop,
        backoff=Backoff(initial=0.05, maximum=0.1),
    )
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    assert eventually(lambda: consumer.backoff.failures >= 3, timeout=5)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_command_stops_cleanly_on_sigterm(amqp_url: str, tmp_path: Any) -> None:
    env = {
        **os.environ,
        "RABBITMQ_URL": amqp_url,
        "COURIER_WEB_HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "courier_web.config.settings.base",
    }
    command = [sys.executable, "-m", "courier_web", "consume_events"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert eventually(lambda: _consumers(amqp_url) >= 1, timeout=30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read().decode() if process.stdout else ""
    assert "consumer.started" in output
    assert "consumer.stopped" in output
