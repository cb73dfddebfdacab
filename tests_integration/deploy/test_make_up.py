"""`make up` starts the whole stack, on the ports it is given, and a registration gets its email.

It runs the README's command itself (from the repository root, as a person
would), under a compose project of its own and on free host ports away from
the machine's own RabbitMQ, PostgreSQL and Redis, and always runs `make down`.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from ..support.clients import WebClient
from ..support.images import Images
from ..support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
#: The machine's own services and the stack's default ports: never reuse them.
TAKEN_PORTS = frozenset({4369, 5432, 5555, 5672, 6379, 8000, 8025, 15672, 25672})
#: Below Linux's ephemeral range, so no outgoing connection takes one meanwhile.
PORT_RANGE = (20000, 32000)
#: `make up` gives up after this; the test waits a little longer for make itself.
UP_TIMEOUT = 150
PORT_VARIABLES = (
    "WEB_PORT",
    "COURIER_RABBITMQ_PORT",
    "COURIER_RABBITMQ_UI_PORT",
    "COURIER_POSTGRES_PORT",
    "COURIER_MAIL_PORT",
    "COURIER_FLOWER_PORT",
)


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on at 127.0.0.1 now, distinct, none of `TAKEN_PORTS`."""
    rng = random.SystemRandom()
    chosen: list[int] = []
    while len(chosen) < count:
        port = rng.randrange(*PORT_RANGE)
        if port in TAKEN_PORTS or port in chosen:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
    return chosen


@dataclass(frozen=True)
class Deployment:
    """One `make up` stack: its compose project and its host ports."""

    project: str
    ports: dict[str, int]

    def make(self, target: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
        images = Images.from_environment()
        # A parent make (`make test`) passes its own variables down through
        # MAKEFLAGS; this make must see only the ones given here.
        env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
        env.update(
            RABBITMQ_IMAGE=images.rabbitmq,
            POSTGRES_IMAGE=images.postgres,
            WEB_IMAGE=images.web,
            WORKER_IMAGE=images.worker,
            SMTP_SINK_IMAGE=images.smtp_sink,
        )
        variables = [f"COMPOSE_PROJECT={self.project}", f"UP_TIMEOUT={UP_TIMEOUT}"]
        variables += [f"{name}={port}" for name, port in self.ports.items()]
        return subprocess.run(
            ["make", "--no-print-directory", target, *variables],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def mail(self) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.ports['COURIER_MAIL_PORT']}/messages"
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    started = Deployment(
        project=f"courier-it-{uuid.uuid4().hex[:10]}",
        ports=dict(zip(PORT_VARIABLES, free_ports(len(PORT_VARIABLES)), strict=True)),
    )
    try:
        yield started
    finally:
        down = started.make("down", timeout=180)
        assert down.returncode == 0, f"make down failed:\n{down.stdout}\n{down.stderr}"


def accepts_connections(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        return True


@pytest.mark.timeout(UP_TIMEOUT + 240)
def test_make_up_serves_registrations_end_to_end_on_the_ports_given(
    deployment: Deployment, domain: str
) -> None:
    ports = deployment.ports

    up = deployment.make("up", timeout=UP_TIMEOUT + 60)

    assert up.returncode == 0, f"make up failed:\n{up.stdout}\n{up.stderr}"
    assert f"web http://localhost:{ports['WEB_PORT']}" in up.stdout
    assert f"mail http://localhost:{ports['COURIER_MAIL_PORT']}/messages" in up.stdout
    assert f"rabbitmq http://localhost:{ports['COURIER_RABBITMQ_UI_PORT']}" in up.stdout
    assert accepts_connections(ports["COURIER_RABBITMQ_PORT"])
    assert accepts_connections(ports["COURIER_POSTGRES_PORT"])

    email = f"ada@{domain}"
    web = WebClient(f"http://127.0.0.1:{ports['WEB_PORT']}")
    response = web.register(email, password="correct-horse-battery-9")

    assert response.status_code == 201, response.text
    mails = wait_until(
        lambda: [m for m in deployment.mail() if m["rcpt_tos"] == [email]],
        timeout=60,
        what="the welcome email in the stack's SMTP sink",
        interval=0.5,
    )
    assert len(mails) == 1
    assert "Welcome" in mails[0]["subject"]
