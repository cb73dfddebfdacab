"""A private vhost on the real broker for each test session, removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    """``RABBITMQ_URL`` pointed at a fresh vhost when ``rabbitmqctl`` can make one."""
    base = os.environ.get("RABBITMQ_URL", DEFAULT_URL)
    if shutil.which("rabbitmqctl") is None:
        yield base
        return
    vhost = f"courier-contracts-{uuid.uuid4().hex[:8]}"
    user = urlsplit(base).username or "guest"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    try:
        yield urlunsplit(urlsplit(base)._replace(path="/" + quote(vhost, safe="")))
    finally:
        _rabbitmqctl("delete_vhost", vhost)
