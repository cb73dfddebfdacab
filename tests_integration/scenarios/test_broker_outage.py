"""The broker going away: readiness tells the truth, and committed events are not lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..support.clients import WebClient
from ..support.polling import wait_until
from ..support.stack import Stack


@pytest.fixture
def broker_restored(stack: Stack) -> Iterator[Stack]:
    """Whatever the test does to RabbitMQ, it runs again afterwards."""
    yield stack
    if stack.rabbitmq.get_wrapped_container().status != "running":
        stack.rabbitmq.docker_start()


def _ready_status(web: WebClient) -> int:
    return web.get("/readyz").status_code


def test_readyz_follows_the_broker(broker_restored: Stack, web: WebClient) -> None:
    assert _ready_status(web) == 200

    broker_restored.rabbitmq.docker_stop()
    wait_until(lambda: _ready_status(web) == 503, timeout=60, what="/readyz to answer 503")
    checks = web.get("/readyz").json()["checks"]
    assert checks["database"] == "ok"
    assert checks["broker"] != "ok"

    broker_restored.rabbitmq.docker_start()
    wait_until(lambda: _ready_status(web) == 200, timeout=90, what="/readyz to answer 200 again")


def test_unsent_outbox_rows_survive_a_web_restart(
    broker_restored: Stack, web: WebClient, domain: str
) -> None:
    stack = broker_restored
    assert stack.relay is not None
    assert stack.web is not None
    stack.relay.docker_stop()
    stack.rabbitmq.docker_stop()
    emails = [f"offline{n}@{domain}" for n in range(10)]

    statuses = [web.register(email).status_code for email in emails]
    stack.web.docker_restart()
    stack.rabbitmq.docker_start()
    stack.relay.docker_start()

    assert statuses == [201] * 10
    mails = wait_until(
        lambda: (found := stack.smtp.messages_to(domain)) and len(found) >= 10 and found,
        timeout=180,
        what="the ten emails registered while the broker was down",
        interval=1,
    )
    assert sorted(m["rcpt_tos"][0] for m in mails) == sorted(emails)
