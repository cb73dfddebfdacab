"""The SMTP server refuses the first attempts: retried through the worker's own delay queues.

A retry is a copy published to ``<queue>.delay.<N>s`` (TTL, then dead-lettered
back to the worker's own queue through the default exchange), never through
``courier.events``: another service bound to the same event sees one copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..support.accounting import worker_log_counts
from ..support.clients import publish_registrations
from ..support.polling import wait_until
from ..support.stack import Stack
from .helpers import Tap, sink_control

REFUSALS = 3


@pytest.fixture
def tap(stack: Stack) -> Iterator[Tap]:
    """A second consumer's queue bound to ``user.registered.v1``; deleted afterwards."""
    queue = Tap(stack)
    yield queue
    queue.delete()


def test_refused_email_is_retried_and_delivered_once_to_one_consumer_copy(
    stack: Stack, domain: str, settle: Callable[..., Any], note: Callable[[str], None], tap: Tap
) -> None:
    refused_before = sink_control(stack)["refused"]
    stack.smtp.refuse_next(REFUSALS)
    connection = stack.rabbitmq.connection()
    try:
        (event_id,) = publish_registrations(
            connection, [f"retry@{domain}"], correlation_id="faults-retry"
        )
    finally:
        connection.close()

    result = settle(domain=domain, produced=[event_id], timeout=120)

    control = sink_control(stack)
    assert (control["refused"] - refused_before, control["refuse_next"]) == (REFUSALS, 0), control
    retries = worker_log_counts(stack)[2][event_id]
    assert retries == REFUSALS, f"{retries} retries scheduled for {REFUSALS} refusals"
    assert result.side_effects == 1
    assert result.repeated_effects == 0
    # The other consumer's queue: exactly one copy, whatever this worker retried.
    seen = wait_until(lambda: tap.drain()[event_id] and tap.seen, timeout=30, what="the tap copy")
    assert seen == {event_id: 1}, seen
    note(f"{REFUSALS} SMTP refusals: {retries} retries, 1 email, 1 copy on the second queue")
