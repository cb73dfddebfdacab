"""Faults injected into the real worker: SMTP refusing or rejecting, a pool child killed.

One prefork worker (concurrency 2) with short retry tiers and its metrics
endpoint, delivering to one in-process SMTP sink that misbehaves by recipient.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from celery import Celery
from courier_worker.queues import CRITICAL
from shared_contracts import ProbeSent, UserRegistered, encode, new_envelope
from shared_contracts.topology import (
    DEAD_LETTER_DETAIL_HEADER,
    DEAD_LETTER_REASON_HEADER,
    EVENTS_EXCHANGE,
)

from tests.component.helpers import (
    Broker,
    SmtpSink,
    Worker,
    free_port,
    sample,
    scrape,
    wait_for,
)

pytestmark = [pytest.mark.component, pytest.mark.timeout(120)]

MAX_RETRIES = 3


@pytest.fixture(scope="module")
def faulty_sink() -> Iterator[SmtpSink]:
    with SmtpSink(faulty=True) as sink:
        yield sink


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def worker(
    amqp_url: str,
    faulty_sink: SmtpSink,
    metrics_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    home = tmp_path_factory.mktemp("faults-worker")
    env = {
        "RABBITMQ_URL": amqp_url,
        "SMTP_URL": f"smtp://127.0.0.1:{faulty_sink.port}?timeout=30",
        "WORKER_MAX_RETRIES": str(MAX_RETRIES),
        "WORKER_RETRY_BASE_SECONDS": "0.5",
        "WORKER_RETRY_MAX_SECONDS": "2",
        "WORKER_RETRY_DELAYS": "1,2",
        "WORKER_METRICS_PORT": str(metrics_port),
        "WORKER_METRICS_ADDRESS": "127.0.0.1",
    }
    with Worker(home, env, concurrency=2) as worker:
        yield worker


def registration(local_prefix: str) -> Any:
    unique = uuid.uuid4().hex[:10]
    return new_envelope(
        UserRegistered(user_id=3, email=f"{local_prefix}{unique}@example.com"),
        producer="web",
        correlation_id=f"req-{unique}",
    )


def message_id(envelope: Any) -> str:
    return f"<{envelope.event_id}@courier.invalid>"


@pytest.fixture
def other_service(amqp_url: str) -> Iterator[tuple[pika.adapters.BlockingConnection, str]]:
    """A queue another service would own, bound to ``user.registered.v1`` too."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    name = f"other-service.{uuid.uuid4().hex[:8]}"
    channel.queue_declare(name, durable=True)
    channel.queue_bind(name, EVENTS_EXCHANGE, routing_key="user.registered.v1")
    yield connection, name
    channel.queue_delete(name)
    connection.close()


def test_smtp_refusing_retries_on_the_own_queue_only(
    worker: Worker,
    faulty_sink: SmtpSink,
    broker: Broker,
    other_service: tuple[pika.adapters.BlockingConnection, str],
) -> None:
    envelope = registration("refuse3-")
    wire = encode(envelope)
    broker.publish(wire)

    [email] = wait_for(
        lambda: faulty_sink.to(message_id(envelope)), timeout=40, what="the email after retries"
    )
    assert email["X-Correlation-ID"] == envelope.correlation_id
    assert faulty_sink.attempts(envelope.payload.email) == 4  # 3 refused, then accepted
    wait_for(lambda: worker.events("event.handled", envelope.event_id), what="event.handled")

    retries = worker.events("event.retry_scheduled", envelope.event_id)
    assert [line["retry"] for line in retries] == [1, 2, 3]
    assert all(line["correlation_id"] == envelope.correlation_id for line in retries)
    assert all(line["delay_queue"].startswith(f"{CRITICAL.name}.delay.") for line in retries)
    [handled] = worker.events("event.handled", envelope.event_id)
    assert handled["retries"] == 3
    assert handled["correlation_id"] == envelope.correlation_id

    # The other service got the event exactly once, as published: no retry reached it.
    connection, queue = other_service
    channel = connection.channel()
    copies = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        if (properties.headers or {}).get("id") == str(envelope.event_id):
            copies.append(body)
    assert copies == [wire.body]

    time.sleep(1.5)  # nothing else is on its way
    assert len(faulty_sink.to(message_id(envelope))) == 1
    assert len(worker.events("event.handled", envelope.event_id)) == 1

    # Every line about this event, Celery's "received"/"succeeded" included, says
    # which event and which request it is about.
    about = [line for line in worker.log_lines() if str(envelope.event_id) in json.dumps(line)]
    assert len(about) >= 12  # 4 deliveries: received, failed or handled, succeeded...
    for line in about:
        assert line["event_id"] == str(envelope.event_id), line
        assert line["event_type"] == envelope.event_type, line
        assert line["correlation_id"] == envelope.correlation_id, line


def test_retries_exhausted_are_dead_lettered(
    worker: Worker, faulty_sink: SmtpSink, broker: Broker
) -> None:
    envelope = registration("always451-")
    broker.publish(encode(envelope))
    headers, _body = wait_for(
        lambda: broker.dead_letter(CRITICAL.dead_letter_queue, str(envelope.event_id)),
        timeout=40,
        what="the exhausted event in the dead-letter queue",
    )
    assert headers[DEAD_LETTER_REASON_HEADER] == "retries-exhausted"
    assert "451" in headers[DEAD_LETTER_DETAIL_HEADER]
    assert f"after {MAX_RETRIES} retries" in headers[DEAD_LETTER_DETAIL_HEADER]
    assert headers["retries"] == MAX_RETRIES
    assert headers["x-courier-correlation-id"] == envelope.correlation_id
    assert faulty_sink.attempts(envelope.payload.email) == MAX_RETRIES + 1
    assert len(worker.events("event.retry_scheduled", envelope.event_id)) == MAX_RETRIES
    assert faulty_sink.to(message_id(envelope)) == []


def test_permanent_refusal_is_dead_lettered_without_retry(
    worker: Worker, faulty_sink: SmtpSink, broker: Broker
) -> None:
    envelope = registration("reject-")
    broker.publish(encode(envelope))
    headers, _body = wait_for(
        lambda: broker.dead_letter(CRITICAL.dead_letter_queue, str(envelope.event_id)),
        what="the rejected event in the dead-letter queue",
    )
    assert headers[DEAD_LETTER_REASON_HEADER] == "handler-failed"
    assert "550" in headers[DEAD_LETTER_DETAIL_HEADER]
    assert faulty_sink.attempts(envelope.payload.email) == 1
    assert worker.events("event.retry_scheduled", envelope.event_id) == []


def test_killed_pool_child_means_redelivery_not_loss(
    worker: Worker, faulty_sink: SmtpSink, broker: Broker, amqp_url: str
) -> None:
    envelope = registration("slow20-")  # the first attempt stalls 20 s at RCPT
    broker.publish(encode(envelope))
    wait_for(
        lambda: faulty_sink.attempts(envelope.payload.email) == 1,
        what="the handler to reach the SMTP server",
    )

    control = Celery(broker=amqp_url, set_as_current=False)
    try:

        def child_pid() -> int | None:
            replies = control.control.inspect(destination=[worker.hostname], timeout=2).active()
            for tasks in (replies or {}).values():
                for task in tasks:
                    if task["id"] == str(envelope.event_id) and task.get("worker_pid"):
                        return int(task["worker_pid"])
            return None

        pid = wait_for(child_pid, what="the pool child running the event")
    finally:
        control.close()
    assert worker.process is not None
    assert pid != worker.process.pid
    os.kill(pid, signal.SIGKILL)

    [email] = wait_for(
        lambda: faulty_sink.to(message_id(envelope)), timeout=30, what="the redelivered email"
    )
    assert email["To"] == envelope.payload.email
    assert faulty_sink.attempts(envelope.payload.email) == 2
    wait_for(lambda: worker.events("event.handled", envelope.event_id), what="event.handled")
    time.sleep(1.5)  # nothing else is on its way
    assert len(faulty_sink.to(message_id(envelope))) == 1
    assert len(worker.events("event.handled", envelope.event_id)) == 1
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # that child is gone; the pool replaced it and goes on
    assert worker.process.poll() is None


def test_metrics_are_served_for_the_whole_pool(
    worker: Worker, faulty_sink: SmtpSink, broker: Broker, metrics_port: int
) -> None:
    probe = new_envelope(ProbeSent(sequence=1), producer="test", correlation_id="metrics-1")
    retried = registration("refuse1-")
    rejected = registration("reject-")
    for envelope in (probe, probe, retried, rejected):
        broker.publish(encode(envelope))
    wait_for(lambda: faulty_sink.to(message_id(retried)), what="the retried email")
    wait_for(
        lambda: broker.dead_letter(CRITICAL.dead_letter_queue, str(rejected.event_id)),
        what="the rejected event",
    )

    def scraped() -> str | None:
        text = scrape(metrics_port)
        probes = sample(
            text, "courier_worker_tasks_total", event_type=ProbeSent.event_type, outcome="handled"
        )
        duplicates = sample(
            text, "courier_worker_tasks_total", event_type=ProbeSent.event_type, outcome="duplicate"
        )
        return text if probes >= 1 and duplicates >= 1 else None

    text = wait_for(scraped, what="the probe in the metrics")
    registered = {"event_type": UserRegistered.event_type}
    assert sample(text, "courier_worker_tasks_total", **registered, outcome="handled") >= 1
    assert sample(text, "courier_worker_tasks_total", **registered, outcome="retried") >= 1
    assert sample(text, "courier_worker_tasks_total", **registered, outcome="dead_lettered") >= 1
    assert sample(text, "courier_worker_retries_total", **registered) >= 1
    assert sample(text, "courier_worker_dead_letters_total", reason="handler-failed") >= 1
    assert sample(text, "courier_worker_handling_seconds_count", **registered) >= 3
    assert (
        sample(
            text,
            "courier_worker_handling_seconds_bucket",
            event_type=ProbeSent.event_type,
            le="+Inf",
        )
        >= 2
    )
