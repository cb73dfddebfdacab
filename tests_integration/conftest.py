"""End-to-end suite: the deployable images of web and worker on testcontainers.

It needs a Docker engine. Without one it fails loudly (never skips): CI must
not report a green suite that never ran.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import docker
import pytest

from .support.clients import WebClient
from .support.images import Images
from .support.stack import Stack, running_stack

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
# pika narrates every connection attempt at INFO; the suite's own polling says enough.
logging.getLogger("pika").setLevel(logging.WARNING)


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.exit(
            f"the integration suite needs a running Docker engine and could not reach one "
            f"({exc}). Start dockerd (see README, 'Running the tests') and run again.",
            returncode=3,
        )
    images = Images.from_environment()
    ours = (images.web, images.worker, images.smtp_sink, images.s3_server)
    missing = [name for name in ours if not client.images.list(name=name)]
    if missing:
        pytest.exit(
            f"images not built: {', '.join(missing)}. Run `make images` "
            "(or `make images-offline` without a registry) first.",
            returncode=3,
        )


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with running_stack(Images.from_environment()) as started:
        yield started


@pytest.fixture
def web(stack: Stack) -> WebClient:
    assert stack.web is not None
    return WebClient(stack.web.base_url)


@pytest.fixture
def domain() -> str:
    """A mail domain of this test's own, so tests never see each other's emails."""
    return f"t{uuid.uuid4().hex[:12]}.example.com"
