"""How the web service reaches RabbitMQ: connection parameters with bounded waits.

``RABBITMQ_URL`` names one node, or the nodes of a cluster separated by ``;``
(the separator Celery and kombu take too). Each connection tries the nodes
in a new random order: connections spread over the cluster, and after a
node is lost the next connection goes to one that answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pika
import pika.exceptions
from django.conf import settings
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.utils.connection_workflow import AMQPConnectorException


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


#: Separates the nodes' URLs in ``RABBITMQ_URL``.
URL_SEPARATOR = ";"


def broker_urls(url: str) -> list[str]:
    """The node URLs in ``url``: one, or several separated by ``;``."""
    urls = [part.strip() for part in url.split(URL_SEPARATOR) if part.strip()]
    if not urls:
        raise ValueError("RABBITMQ_URL names no broker")
    return urls


def connection_parameters(options: BrokerOptions) -> list[pika.URLParameters]:
    """One set of parameters per node, in a random order; pika tries them in turn."""
    urls = broker_urls(options.url)
    return [node_parameters(url, options) for url in random.sample(urls, len(urls))]


def node_parameters(url: str, options: BrokerOptions) -> pika.URLParameters:
    """Parameters from one node's URL, with our bounded timeouts unless the URL sets its own."""
    params = pika.URLParameters(url)
    in_url = set(parse_qs(urlsplit(url).query))
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


def open_connection(options: BrokerOptions, *, timeout: float | None = None) -> BlockingConnection:
    """A connection to the first node that answers, the nodes tried in a random order.

    One node at a time: given the whole list, pika (1.3, 1.4) gives up at the
    first node whose name does not resolve (a node gone from DNS) instead of
    trying the next. ``timeout`` replaces the per-node connect timeout.

    Raises ``pika.exceptions.AMQPError`` or ``OSError`` only: pika reports a
    node that accepts the TCP connection but never completes the handshake (a
    frozen or overloaded broker) with its connector's own exceptions, which
    derive from neither, so they become an ``AMQPConnectionError`` here.
    """
    failures: list[tuple[str, Exception]] = []
    for params in connection_parameters(options):
        if timeout is not None:
            params.socket_timeout = timeout
            params.stack_timeout = timeout * 2
        try:
            return BlockingConnection(params)
        except (pika.exceptions.AMQPError, OSError) as exc:  # OSError: a name gone from DNS
            failures.append((f"{params.host}:{params.port}", exc))
        except AMQPConnectorException as exc:  # e.g. AMQPConnectorStackTimeout
            wrapped = pika.exceptions.AMQPConnectionError(f"{type(exc).__name__}: {exc}")
            wrapped.__cause__ = exc
            failures.append((f"{params.host}:{params.port}", wrapped))
    if len(failures) == 1:
        raise failures[0][1]
    raise pika.exceptions.AMQPConnectionError(
        "no broker node answered: "
        + "; ".join(f"{node}: {type(exc).__name__}: {exc}" for node, exc in failures)
    )


def probe_broker(options: BrokerOptions, *, timeout: float) -> None:
    """Open and close one AMQP connection within ~``timeout`` per node; raise if that fails."""
    open_connection(options, timeout=timeout).close()


def redact_url(url: str) -> str:
    """``url`` (each node's, if several) without its password, for log lines and errors."""
    if URL_SEPARATOR in url:
        return URL_SEPARATOR.join(redact_url(part) for part in broker_urls(url))
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
