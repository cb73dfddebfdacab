"""Small clients for what end-to-end tests may touch: HTTP, the broker, and SMTP (via the sink)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
import requests
from shared_contracts import Event, UserRegistered, encode, new_envelope


@dataclass
class WebClient:
    base_url: str
    session: requests.Session = field(default_factory=requests.Session)

    def register(
        self, email: str, *, password: str = "correct-horse-9", request_id: str | None = None
    ) -> requests.Response:
        headers = {"X-Request-ID": request_id} if request_id else {}
        return self.session.post(
            f"{self.base_url}/api/users",
            json={"email": email, "password": password},
            headers=headers,
            timeout=30,
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(f"{self.base_url}{path}", timeout=30, **kwargs)

    def token(self, email: str, password: str = "correct-horse-9") -> str:
        """A bearer token of the account (``POST /api/tokens``)."""
        response = self.session.post(
            f"{self.base_url}/api/tokens",
            json={"email": email, "password": password},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """Any request to the API, sent with ``token`` as its bearer token if one is given."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=60, **kwargs
        )


def publish_registrations(
    connection: pika.BlockingConnection, emails: list[str], *, correlation_id: str
) -> list[str]:
    """Publish ``user.registered.v1`` events into the exchange, as the web's relay would."""
    events = [
        UserRegistered(user_id=number, email=email) for number, email in enumerate(emails, start=1)
    ]
    return publish_events(connection, events, correlation_id=correlation_id)


def publish_events(
    connection: pika.BlockingConnection, events: Sequence[Event], *, correlation_id: str
) -> list[str]:
    """Publish ``events`` into the exchange (confirmed, mandatory), as their producer would."""
    channel = connection.channel()
    channel.confirm_delivery()
    event_ids = []
    for event in events:
        envelope = new_envelope(
            event,
            producer="courier-tests",
            correlation_id=correlation_id,
            event_id=uuid.uuid4(),
        )
        message = encode(envelope)
        channel.basic_publish(
            exchange=message.exchange,
            routing_key=message.routing_key,
            body=message.body,
            properties=pika.BasicProperties(**message.amqp_properties()),
            mandatory=True,
        )
        event_ids.append(str(envelope.event_id))
    channel.close()
    return event_ids
