"""Component tests: the web service against the real RabbitMQ (and PostgreSQL).

Each session gets a throwaway vhost (``rabbitmqctl add_vhost``), deleted at
the end, so nothing lands in the default vhost other people use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from shared_contracts import EVENTS_EXCHANGE

from courier_web.outbox.background import ThreadedDispatcher
from courier_web.outbox.dispatch import use_dispatcher

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/component/" in str(item.fspath):
            item.add_marker(pytest.mark.component)


def rabbitmqctl(*args: str) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("component tests need rabbitmqctl (run as root next to the broker)")
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """An AMQP URL to a fresh vhost on the local broker, removed afterwards."""
    base = urlsplit(os.environ.get("RABBITMQ_URL", DEFAULT_URL))
    user = base.username or "guest"
    vhost = f"courier-web-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        netloc = base.netloc or "guest:guest@127.0.0.1:5672"
        yield f"{base.scheme or 'amqp'}://{netloc}/{quote(vhost, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def broker_settings(settings: Any, amqp_url: str) -> str:
    settings.RABBITMQ_URL = amqp_url
    settings.OUTBOX_BACKOFF_INITIAL = 0.2
    settings.OUTBOX_BACKOFF_MAX = 1.0
    return amqp_url


@pytest.fixture
def threaded_dispatcher(broker_settings: str) -> Iterator[ThreadedDispatcher]:
    """The real in-process publisher, built from settings (pointed at the test vhost)."""
    dispatcher = ThreadedDispatcher.from_settings()
    with use_dispatcher(dispatcher):
        yield dispatcher
    dispatcher.stop()


@dataclass
class Observer:
    """An exclusive queue bound to ``courier.events``; collects what arrives."""

    channel: BlockingChannel
    queue: str
    received: list[tuple[Any, Any, bytes]] = field(default_factory=list)

    def drain(self, *, until: Callable[[], bool] | None = None, timeout: float = 10.0) -> None:
        """Collect messages until ``until()`` holds or ``timeout`` passes (bounded polling)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                if until is not None and until():
                    return
                self.channel.connection.process_data_events(time_limit=0.05)
                continue
            self.received.append((method, props, body))

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        self.drain(until=lambda: len(self.received) >= count, timeout=timeout)

    def settle(self, seconds: float = 0.5) -> None:
        """Keep collecting for a while: anything extra would be a duplicate."""
        self.drain(timeout=seconds)


@pytest.fixture
def observe(amqp_url: str) -> Iterator[Callable[[str], Observer]]:
    connections: list[pika.BlockingConnection] = []

    def bind(routing_key: str = "#") -> Observer:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        connections.append(connection)
        channel = connection.channel()
        channel.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, EVENTS_EXCHANGE, routing_key=routing_key)
        return Observer(channel, queue)

    yield bind
    for connection in connections:
        if connection.is_open:
            connection.close()


def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
