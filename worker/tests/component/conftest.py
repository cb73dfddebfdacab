"""Component tests: the real worker (a ``celery worker`` subprocess) against a real RabbitMQ.

Each session gets a fresh vhost (``rabbitmqctl``), deleted afterwards; messages
are published with pika through ``shared_contracts.encode``, as the web service does.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.component.helpers import Broker, SmtpSink, Worker, broker_url


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A fresh vhost on the local RabbitMQ, for this session only."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("component tests need rabbitmqctl (a local RabbitMQ) to create a vhost")
    vhost = f"courier-worker-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield broker_url(vhost)
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def broker(amqp_url: str) -> Iterator[Broker]:
    """A pika publisher (and dead-letter reader) on the session's vhost."""
    broker = Broker(amqp_url)
    yield broker
    broker.close()


@pytest.fixture(scope="module")
def file_worker(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A prefork worker writing mail as .eml files (``SMTP_URL`` unset)."""
    home = tmp_path_factory.mktemp("file-worker")
    with Worker(home, {"RABBITMQ_URL": amqp_url}) as worker:
        yield worker


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def smtp_worker(
    amqp_url: str, smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """A prefork worker delivering to the in-process SMTP sink."""
    home = tmp_path_factory.mktemp("smtp-worker")
    env = {"RABBITMQ_URL": amqp_url, "SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}"}
    with Worker(home, env) as worker:
        yield worker
