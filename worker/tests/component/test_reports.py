"""Reports for real: a ``celery worker`` builds its read model from registrations fed through
RabbitMQ, then answers a report request with the CSV in the storage and report.completed.v1."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pika
import pytest
from shared_contracts import UserRegistered, decode, encode, new_envelope
from shared_contracts.events.audit import EntityChanged
from shared_contracts.events.reports import ReportCompleted, ReportRequested

from tests.component.helpers import Broker, Worker, wait_for

pytestmark = [pytest.mark.component, pytest.mark.timeout(120)]

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("storage")


@pytest.fixture(scope="module")
def worker(
    amqp_url: str, storage: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    home = tmp_path_factory.mktemp("report-worker")
    with Worker(home, {"RABBITMQ_URL": amqp_url, "STORAGE_URL": str(storage)}) as running:
        yield running


@pytest.fixture
def results(amqp_url: str) -> Iterator[Any]:
    """An exclusive queue bound to the report results, as the web's queue is."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    for key in ("report.completed.v1", "report.failed.v1"):
        channel.queue_bind(queue, "courier.events", routing_key=key)

    def next_result() -> Any:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        return None if method is None else decode(body, properties.headers)

    yield next_result
    connection.close()


def handled(worker: Worker) -> int:
    return sum(1 for line in worker.log_lines() if line.get("event") == "event.handled")


def test_a_report_lists_the_registered_users_of_its_range(
    worker: Worker, broker: Broker, storage: Path, results: Any
) -> None:
    users = range(100_001, 100_041)
    for offset, user_id in enumerate(users):
        registered = UserRegistered(
            user_id=user_id, email=f"u{user_id}@example.com", display_name=f"N{user_id}"
        )
        broker.publish(
            encode(
                new_envelope(
                    registered,
                    producer="courier-web",
                    correlation_id="c",
                    occurred_at=T0 + timedelta(hours=offset),
                )
            )
        )
    # One of them is deleted: gone from the read model, so from the report.
    deleted = EntityChanged(entity="user", entity_id=str(users[0]), action="deleted", version=2)
    broker.publish(encode(new_envelope(deleted, producer="courier-web", correlation_id="c")))
    wait_for(
        lambda: handled(worker) >= len(users) + 1 or None,
        what="the registrations and the deletion to be handled",
    )
    request = ReportRequested(
        report_id=uuid.uuid4(),
        kind="signups",
        date_from=date(2026, 5, 1),
        date_to=date(2026, 5, 2),
        requested_by=1,
    )
    broker.publish(encode(new_envelope(request, producer="courier-web", correlation_id="rep")))
    envelope = wait_for(results, what="report.completed.v1")
    completed = envelope.payload
    assert isinstance(completed, ReportCompleted)
    assert completed.report_id == request.report_id
    assert envelope.correlation_id == "rep"
    data = (storage / completed.reference).read_bytes()
    assert hashlib.sha256(data).hexdigest() == completed.sha256
    assert len(data) == completed.size_bytes
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    # 40 registered one an hour from 08:00 on 1 May: all but the deleted one are in range.
    assert [int(row["user_id"]) for row in rows] == list(users[1:])
    assert completed.row_count == 39
    assert rows[0]["email"] == f"u{users[1]}@example.com"
    assert json.dumps(rows[0]["registered_at"]) == json.dumps("2026-05-01T09:00:00Z")
