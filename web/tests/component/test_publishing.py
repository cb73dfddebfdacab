"""Registrations published through the real broker, and what happens when it is away."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client
from shared_contracts import ProbeSent, decode

from courier_web.outbox.background import ThreadedDispatcher
from courier_web.outbox.dispatch import use_dispatcher
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.writing import outbox_enqueue
from tests.component.conftest import Observer, closed_port, eventually
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def register(client: Client, email: str, request_id: str) -> Any:
    return client.post(
        "/api/users",
        {"email": email, "password": STRONG_PASSWORD},
        content_type="application/json",
        headers={"X-Request-ID": request_id},
    )


def test_a_registration_arrives_once_decodable_with_the_request_id(
    client: Client,
    threaded_dispatcher: ThreadedDispatcher,
    observe: Callable[[str], Observer],
) -> None:
    observer = observe("user.registered.v1")
    observe("entity.changed.v1")  # the audit trail's events are routable too

    response = register(client, "ada@example.com", "it-registers-1")

    assert response.status_code == 201
    observer.wait_for(1)
    observer.settle()
    assert len(observer.received) == 1
    _, props, body = observer.received[0]
    envelope = decode(body, props.headers)
    row = OutboxMessage.objects.get(event_type="user.registered.v1")
    assert envelope.event_id == row.event_id
    assert envelope.correlation_id == "it-registers-1"
    assert envelope.payload.model_dump()["email"] == "ada@example.com"
    assert props.headers["task"] == "user.registered.v1"
    assert props.headers["id"] == str(row.event_id)
    assert props.message_id == str(row.event_id)
    assert props.delivery_mode == 2
    assert props.content_type == "application/json"
    assert eventually(
        lambda: set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
    )


def test_with_the_broker_unreachable_registration_still_succeeds_and_the_relay_catches_up(
    client: Client,
    settings: Any,
    broker_settings: str,
    observe: Callable[[str], Observer],
) -> None:
    real_url = broker_settings
    settings.RABBITMQ_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"
    dispatcher = ThreadedDispatcher.from_settings()
    observer = observe("user.registered.v1")
    observe("entity.changed.v1")  # the audit trail's events are routable too
    with use_dispatcher(dispatcher):
        started = time.monotonic()
        response = register(client, "grace@example.com", "it-broker-down-1")
        elapsed = time.monotonic() - started
        second = register(client, "linus@example.com", "it-broker-down-2")
    assert response.status_code == 201
    assert second.status_code == 201
    assert elapsed < 1.0, f"the request waited {elapsed:.2f}s on a dead broker"
    # The in-process publisher tried (and failed) once, then its breaker opened.
    assert eventually(lambda: OutboxMessage.objects.filter(attempts__gte=1).exists())
    dispatcher.stop()
    # Each registration wrote its user.registered.v1 and the audit trail's two events.
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 6
    # Once, in one batch: the first request's rows (it hands over a commit's rows
    # together), with the second's when they were queued before the thread took them.
    tried = list(OutboxMessage.objects.filter(attempts__gte=1))
    assert {row.attempts for row in tried} == {1}
    assert "it-broker-down-1" in {row.correlation_id for row in tried}
    assert len(tried) in (3, 6)
    for failed_row in tried:
        assert "Connection" in failed_row.last_error or "connect" in failed_row.last_error.lower()

    settings.RABBITMQ_URL = real_url
    call_command("relay_outbox", "--once", "--grace", "0")

    observer.wait_for(2)
    observer.settle()
    received = sorted(decode(b, p.headers).correlation_id for _, p, b in observer.received)
    assert received == ["it-broker-down-1", "it-broker-down-2"]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


def test_relay_once_with_no_broker_fails_clearly_and_keeps_rows(
    settings: Any, broker_settings: str
) -> None:
    with transaction.atomic():
        outbox_enqueue(ProbeSent(sequence=1), correlation_id="it-no-broker")
    settings.RABBITMQ_URL = f"amqp://guest:secret-pw@127.0.0.1:{closed_port()}/%2F"

    with pytest.raises(CommandError) as caught:
        call_command("relay_outbox", "--once", "--grace", "0")

    assert "rabbitmq-server -detached" in str(caught.value)
    assert "secret-pw" not in str(caught.value)
    assert OutboxMessage.objects.get().status == OutboxStatus.PENDING


def test_an_unroutable_event_is_marked_failed_with_the_reason(
    broker_settings: str, observe: Callable[[str], Observer]
) -> None:
    observe("user.registered.v1")  # something is bound, but not for probes
    with transaction.atomic():
        row = outbox_enqueue(ProbeSent(sequence=7), correlation_id="it-unroutable")

    call_command("relay_outbox", "--once", "--grace", "0")

    row.refresh_from_db()
    assert row.status == OutboxStatus.FAILED
    assert "NO_ROUTE" in row.last_error
    assert "diagnostic.probe_sent.v1" in row.last_error
