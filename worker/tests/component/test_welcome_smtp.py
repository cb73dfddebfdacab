"""With ``SMTP_URL`` set, the welcome email reaches an SMTP server, once."""

from __future__ import annotations

import uuid

import pytest
from shared_contracts import UserRegistered, encode, new_envelope

from tests.component.helpers import Broker, SmtpSink, Worker, wait_for

pytestmark = [pytest.mark.component, pytest.mark.timeout(120)]


def test_registration_is_delivered_over_smtp_once(
    smtp_worker: Worker, smtp_sink: SmtpSink, broker: Broker
) -> None:
    unique = uuid.uuid4().hex[:10]
    envelope = new_envelope(
        UserRegistered(user_id=2, email=f"s{unique}@example.com"),
        producer="web",
        correlation_id=f"req-{unique}",
    )
    message_id = f"<{envelope.event_id}@courier.invalid>"
    wire = encode(envelope)
    broker.publish(wire)
    broker.publish(wire)

    [message] = wait_for(lambda: smtp_sink.to(message_id), what="the email at the SMTP sink")
    assert message["To"] == envelope.payload.email
    assert "Welcome" in message["Subject"]
    assert message["X-Correlation-ID"] == envelope.correlation_id

    wait_for(
        lambda: smtp_worker.events("event.duplicate", envelope.event_id),
        what="the duplicate delivery to be processed",
    )
    assert len(smtp_worker.events("event.handled", envelope.event_id)) == 1
    assert len(smtp_sink.to(message_id)) == 1
    assert smtp_worker.emails() == []
