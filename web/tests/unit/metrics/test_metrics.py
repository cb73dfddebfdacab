"""GET /metrics: request metrics by route, outbox gauges read from the database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from shared_contracts import ProbeSent

from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.publishing import outbox_publish_batch
from courier_web.outbox.writing import outbox_enqueue
from tests.fakes import FakePublisher

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, labels: str = "") -> float | None:
    pattern = "(?m)^" + re.escape(name) + (r"\{" + labels + r"\}" if labels else "") + r" (\S+)"
    match = re.search(pattern, text)
    return float(match[1]) if match else None


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_requests_are_counted_by_route_method_and_status(client: Client) -> None:
    before = sample(
        scrape(client),
        "courier_web_http_requests_total",
        'method="GET",route="/api/users/<user_id>",status="401"',
    )

    client.get("/api/users/1")
    client.get("/api/users/2")

    text = scrape(client)
    after = sample(
        text,
        "courier_web_http_requests_total",
        'method="GET",route="/api/users/<user_id>",status="401"',
    )
    assert after == (before or 0) + 2
    assert "courier_web_http_request_duration_seconds_bucket{" in text
    assert 'route="/api/users/1"' not in text  # templates, not paths


def test_outbox_gauges_come_from_the_database(client: Client) -> None:
    outbox_enqueue(ProbeSent(sequence=1), correlation_id="m-1")
    outbox_enqueue(ProbeSent(sequence=2), correlation_id="m-2")
    failed = outbox_enqueue(ProbeSent(sequence=3), correlation_id="m-3")
    OutboxMessage.objects.filter(pk=failed.pk).update(status=OutboxStatus.FAILED)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=90))

    text = scrape(client)

    assert sample(text, "courier_web_outbox_pending_rows") == 2
    assert sample(text, "courier_web_outbox_failed_rows") == 1
    age = sample(text, "courier_web_outbox_oldest_pending_age_seconds")
    assert age is not None
    assert 89 <= age < 120


def test_publisher_outcomes_are_counted(client: Client) -> None:
    def published() -> float:
        return (
            sample(
                scrape(client),
                "courier_web_outbox_published_total",
                'event_type="diagnostic.probe_sent.v1"',
            )
            or 0
        )

    def failed() -> float:
        return (
            sample(
                scrape(client),
                "courier_web_outbox_publish_failed_total",
                'event_type="diagnostic.probe_sent.v1"',
            )
            or 0
        )

    before_ok, before_failed = published(), failed()
    outbox_enqueue(ProbeSent(sequence=1), correlation_id="m-1")
    publisher = FakePublisher()
    publisher.fail_next()

    outbox_publish_batch(publisher=publisher, limit=10)
    outbox_publish_batch(publisher=publisher, limit=10)

    assert failed() == before_failed + 1
    assert published() == before_ok + 1
