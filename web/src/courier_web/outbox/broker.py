"""How the web service reaches RabbitMQ: connection parameters with bounded waits."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pika
from django.conf import settings


@dataclass(frozen=True)
class BrokerOptions:
    """Where the broker is and how long we are willing to wait for it."""

    url: str
    connect_timeout: float = 2.0
    blocked_timeout: float = 5.0
    heartbeat: int = 15
    #: How long a batch waits for all its confirms; what is unconfirmed by then stays pending.
    confirm_timeout: float = 5.0
    passive_exchange: bool = False
    connection_name: str = "courier-web"

    @classmethod
    def from_settings(cls, *, connection_name: str) -> BrokerOptions:
        return cls(
            url=settings.RABBITMQ_URL,
            connect_timeout=settings.OUTBOX_CONNECT_TIMEOUT,
            blocked_timeout=settings.OUTBOX_BLOCKED_TIMEOUT,
            heartbeat=settings.OUTBOX_HEARTBEAT,
            # One knob for "the broker does not take our messages": blocked or unconfirmed.
            confirm_timeout=settings.OUTBOX_BLOCKED_TIMEOUT,
            passive_exchange=settings.OUTBOX_DECLARE_EXCHANGE == "passive",
            connection_name=connection_name,
        )


def connection_parameters(options: BrokerOptions) -> pika.URLParameters:
    """Parameters from the URL, with our bounded timeouts unless the URL sets its own."""
    params = pika.URLParameters(options.url)
    in_url = set(parse_qs(urlsplit(options.url).query))
    if "socket_timeout" not in in_url:
        params.socket_timeout = options.connect_timeout
    if "stack_timeout" not in in_url:
        params.stack_timeout = options.connect_timeout * 2
    if "blocked_connection_timeout" not in in_url:
        # Without it a broker memory/disk alarm blocks a publish forever.
        params.blocked_connection_timeout = options.blocked_timeout
    if "heartbeat" not in in_url:
        params.heartbeat = options.heartbeat
    params.connection_attempts = 1
    params.retry_delay = 0
    params.client_properties = {"connection_name": options.connection_name}
    return params


def probe_broker(options: BrokerOptions, *, timeout: float) -> None:
    """Open and close one AMQP connection within ~``timeout``; raise if that fails."""
    params = connection_parameters(options)
    params.socket_timeout = timeout
    params.stack_timeout = timeout * 2
    connection = pika.BlockingConnection(params)
    connection.close()


def redact_url(url: str) -> str:
    """``url`` without its password, for log lines and error messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
