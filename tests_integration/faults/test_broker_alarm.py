"""A memory alarm on the broker: it stops reading from publishers until the alarm clears.

The web side publishes with pika's ``blocked_connection_timeout``
(``OUTBOX_BLOCKED_TIMEOUT``, 5 s): a blocked publish gives up instead of
hanging, the row stays pending and the relay tries again later. Requests never
wait for the broker, so they keep answering 201 throughout.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..support.accounting import json_lines, outbox_attempts, outbox_rows
from ..support.clients import WebClient
from ..support.polling import wait_until
from ..support.stack import Stack
from .helpers import container_status, outbox_status

REGISTRATIONS = 20
#: A request does no broker I/O; anything near the blocked timeout (5 s) would mean it waits.
MAX_REQUEST_SECONDS = 2.0


def _alarm_raised(stack: Stack) -> bool:
    code, output = stack.rabbitmq.run("rabbitmq-diagnostics", "-q", "alarms")
    return code == 0 and "memory alarm" in output.lower()


def _relay_records(stack: Stack, since: int) -> list[dict[str, Any]]:
    assert stack.relay is not None
    return list(json_lines(stack.relay.logs()[since:]))


def test_memory_alarm_blocks_publishing_not_requests_and_drains_afterwards(
    stack: Stack,
    web: WebClient,
    domain: str,
    settle: Callable[..., Any],
    memory_alarm: Callable[[bool], None],
    note: Callable[[str], None],
) -> None:
    assert stack.relay is not None
    relay_log_start = len(stack.relay.logs())
    memory_alarm(True)
    wait_until(lambda: _alarm_raised(stack), timeout=30, what="the broker's memory alarm")

    durations, statuses = [], Counter[int]()
    for number in range(REGISTRATIONS):
        started = time.monotonic()
        statuses[web.register(f"alarm{number}@{domain}").status_code] += 1
        durations.append(time.monotonic() - started)
    assert statuses == {201: REGISTRATIONS}
    assert max(durations) < MAX_REQUEST_SECONDS, f"a request waited {max(durations):.2f}s"

    # The relay's publish times out (it does not hang), and it comes back for another try.
    def relay_gave_up() -> list[dict[str, Any]]:
        return [
            record
            for record in _relay_records(stack, relay_log_start)
            if record.get("event") in {"outbox.broker_lost", "outbox.broker_unreachable"}
        ]

    gave_up = wait_until(relay_gave_up, timeout=60, what="the relay to give up a blocked publish")

    def retried_rows() -> dict[str, Any] | None:
        status = outbox_status(stack)
        rows = outbox_rows(stack, domain)
        attempts = max(outbox_attempts(stack, domain).values(), default=0)
        if set(rows.values()) == {"pending"} and attempts >= 2:
            return status
        return None

    status = wait_until(retried_rows, timeout=60, what="a row tried twice and still pending")
    assert status["pending"] >= REGISTRATIONS, status
    assert stack.smtp.messages_to(domain) == []
    assert container_status(stack.relay) == "running", "the relay hung or died"
    note(
        f"under the alarm: {REGISTRATIONS} requests answered 201, slowest "
        f"{max(durations):.3f}s; relay gave up with {gave_up[0].get('error')!r}; "
        f"outbox status: pending={status['pending']} "
        f"oldest={status['oldest_pending_age_seconds']:.1f}s, max attempts "
        f"{max(outbox_attempts(stack, domain).values())}"
    )

    memory_alarm(False)
    wait_until(lambda: not _alarm_raised(stack), timeout=30, what="the alarm to clear")

    rows = outbox_rows(stack, domain)
    assert len(rows) == REGISTRATIONS
    settle(domain=domain, produced=rows)
    wait_until(
        lambda: set(outbox_rows(stack, domain).values()) == {"sent"},
        timeout=60,
        what="every row to be marked sent",
    )
