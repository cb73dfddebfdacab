"""The guide in ``docs/adding-an-event.md``, proven: one event added in three places.

The web side runs in this process (Django on pytest-django's test database,
the real relay functions and pika publisher); the worker runs as its own
``celery worker`` process, as it is deployed; both talk to the machine's
local RabbitMQ on a vhost of this session's own, deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

_STATE = Path(tempfile.mkdtemp(prefix="courier-guide-"))
# Before Django loads its settings: the web side on its own SQLite file,
# publishing only when the test calls the relay.
os.environ["DJANGO_SETTINGS_MODULE"] = "courier_web.config.settings.base"
os.environ["DATABASE_URL"] = f"sqlite:///{_STATE / 'web.sqlite3'}"
os.environ["OUTBOX_DISPATCH"] = "off"


def pytest_configure(config: pytest.Config) -> None:
    import django

    django.setup()


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_STATE, ignore_errors=True)


def _rabbitmqctl(*args: str) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("the guide's test needs rabbitmqctl (a local RabbitMQ) to create a vhost")
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A fresh vhost on the local RabbitMQ, for this session only."""
    vhost = f"courier-guide-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def state_dir() -> Path:
    return _STATE
