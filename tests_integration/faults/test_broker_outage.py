"""RabbitMQ goes away: stopped while users register, or restarted mid-stream.

Requests only write outbox rows, so they keep answering 201 with no broker;
the rows wait (pending) and the relay publishes them once the broker is back.
Quorum queues keep what the broker confirmed across its restart; the worker
reconnects and what it held unacknowledged is delivered again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..support.accounting import outbox_rows
from ..support.clients import WebClient
from ..support.polling import wait_until
from ..support.stack import Stack
from .helpers import in_flight_limit, outbox_status


def test_registrations_while_the_broker_is_stopped_are_all_delivered_once(
    stack: Stack,
    web: WebClient,
    domain: str,
    settle: Callable[..., Any],
    note: Callable[[str], None],
) -> None:
    emails = [f"down{n}@{domain}" for n in range(100)]
    stack.rabbitmq.docker_stop()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = Counter(response.status_code for response in pool.map(web.register, emails))

    assert statuses == {201: 100}
    rows = outbox_rows(stack, domain)
    assert len(rows) == 100
    assert set(rows.values()) == {"pending"}, Counter(rows.values())
    assert outbox_status(stack)["pending"] >= 100
    assert stack.smtp.messages_to(domain) == []

    stack.rabbitmq.docker_start()
    back = time.monotonic()

    settle(domain=domain, produced=rows)
    note(
        f"100 registrations while stopped; all emailed {time.monotonic() - back:.1f}s after restart"
    )
    wait_until(
        lambda: set(outbox_rows(stack, domain).values()) == {"sent"},
        timeout=60,
        what="every outbox row to be marked sent",
    )


def test_broker_restart_while_events_flow_loses_nothing(
    stack: Stack,
    web: WebClient,
    domain: str,
    settle: Callable[..., Any],
    note: Callable[[str], None],
) -> None:
    """Registrations keep coming before, during and after a broker restart."""
    stop = threading.Event()
    statuses: Counter[int] = Counter()

    def register_until_stopped() -> None:
        # About ten a second (a steady stream, not a flood), at most 600 in all.
        number = 0
        while number < 600 and not stop.wait(0.1):
            statuses[web.register(f"flow{number}@{domain}").status_code] += 1
            number += 1

    producer = threading.Thread(target=register_until_stopped, name="registrations")
    producer.start()
    try:
        # Consumption under way: the worker is handling this stream when the broker goes.
        wait_until(
            lambda: len(stack.smtp.messages_to(domain)) >= 30,
            timeout=60,
            what="the first welcome emails of the stream",
        )
        posted_before = statuses.total()
        started = time.monotonic()
        stack.rabbitmq.docker_restart()
        restart_seconds = time.monotonic() - started
        posted_at_restart = statuses.total()
        # Keep producing after the broker is back, then stop.
        wait_until(
            lambda: statuses.total() >= posted_at_restart + 30,
            timeout=60,
            what="30 more registrations after the restart",
        )
    finally:
        stop.set()
        producer.join(timeout=60)

    assert set(statuses) == {201}, statuses
    rows = outbox_rows(stack, domain)
    assert len(rows) == statuses.total()
    result = settle(domain=domain, produced=rows, in_flight=in_flight_limit(stack))
    note(
        f"broker restart took {restart_seconds:.1f}s, during registrations "
        f"{posted_before}..{posted_at_restart} of {statuses.total()}: "
        f"{result.repeated_effects} repeated emails, "
        f"{result.duplicates_suppressed} duplicate deliveries suppressed"
    )
