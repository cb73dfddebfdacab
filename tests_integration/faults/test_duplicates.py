"""The same event delivered more than once: one side effect.

The broker's at-least-once delivery and the outbox's at-least-once publishing
both produce copies. The worker's idempotency store (handled event ids,
claimed in the same transaction that records them) turns every copy after the
first into a logged duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..support.accounting import worker_log_counts
from ..support.polling import wait_until
from ..support.stack import Stack
from .helpers import publish_wire, registration_message


def test_an_event_delivered_three_times_has_one_side_effect(
    stack: Stack, domain: str, settle: Callable[..., Any]
) -> None:
    message = registration_message(f"twice@{domain}")
    event_id = message.message_id
    connection = stack.rabbitmq.connection()
    try:
        # Two copies back to back: both pool processes may hold one at the same time.
        publish_wire(connection, message)
        publish_wire(connection, message)
        wait_until(
            lambda: sum(c[event_id] for c in worker_log_counts(stack)[:2]) >= 2,
            timeout=30,
            what="both copies to be handled or turned away",
        )
        # A third copy long after the first was recorded.
        publish_wire(connection, message)
    finally:
        connection.close()
    wait_until(
        lambda: worker_log_counts(stack)[1][event_id] >= 2,
        timeout=30,
        what="the third copy to be turned away",
    )

    result = settle(domain=domain, produced=[event_id])

    assert (result.handled, result.side_effects, result.duplicates_suppressed) == (1, 1, 2)
    assert len(stack.smtp.messages_to(domain)) == 1
