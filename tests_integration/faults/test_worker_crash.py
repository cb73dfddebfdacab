"""A worker dies mid-work: the whole container (SIGKILL), or one pool child process.

``acks_late`` + ``reject_on_worker_lost``: a message is acknowledged only
after its handler ran and the idempotency record committed, so whatever a
dead process held goes back to the queue and is handled again. The price is
at most a repeated email for a handler killed between its email and its
commit: bounded by what one worker holds in flight (prefetch x concurrency).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..support.clients import publish_registrations
from ..support.polling import wait_until
from ..support.stack import Stack
from .helpers import active_tasks, in_flight_limit, start_worker_again

log = logging.getLogger(__name__)


def test_worker_container_sigkilled_mid_backlog_loses_nothing(
    stack: Stack, domain: str, settle: Callable[..., Any], note: Callable[[str], None]
) -> None:
    (worker,) = stack.workers
    emails = [f"kill{n}@{domain}" for n in range(500)]
    connection = stack.rabbitmq.connection()
    try:
        event_ids = publish_registrations(connection, emails, correlation_id=uuid.uuid4().hex)
    finally:
        connection.close()

    # Kill it once it is visibly in the middle of the backlog.
    wait_until(
        lambda: len(stack.smtp.messages_to(domain)) >= 50,
        timeout=60,
        what="the worker to be busy with the backlog",
        interval=0.1,
    )
    worker.kill()
    killed = time.monotonic()
    sent_before_kill = len(stack.smtp.messages_to(domain))
    assert sent_before_kill < len(emails), "the backlog was done before the kill: no fault"
    start_worker_again(worker)

    limit = in_flight_limit(stack)
    result = settle(domain=domain, produced=event_ids, in_flight=limit)
    note(
        f"SIGKILL after {sent_before_kill} of 500 emails: {result.repeated_effects} repeated "
        f"emails, {result.duplicates_suppressed} duplicate deliveries suppressed "
        f"(in-flight limit prefetch x concurrency = {limit}); all 500 emailed "
        f"{time.monotonic() - killed:.1f}s after the kill"
    )


@pytest.fixture
def sink_paused(stack: Stack) -> Iterator[Callable[[], None]]:
    """Freeze the SMTP sink (``docker pause``): handlers hang in SMTP; unpaused whatever happens."""
    sink = stack.smtp.get_wrapped_container()
    sink.pause()

    def unpause() -> None:
        sink.reload()
        if sink.status == "paused":
            sink.unpause()

    try:
        yield unpause
    finally:
        unpause()


def test_pool_child_sigkilled_while_handling_an_event_redelivers_it(
    stack: Stack,
    domain: str,
    settle: Callable[..., Any],
    note: Callable[[str], None],
    sink_paused: Callable[[], None],
) -> None:
    (worker,) = stack.workers
    connection = stack.rabbitmq.connection()
    try:
        event_ids = publish_registrations(
            connection, [f"child{n}@{domain}" for n in range(6)], correlation_id=uuid.uuid4().hex
        )
    finally:
        connection.close()

    # The sink is frozen: each pool child sits in its handler, waiting for the SMTP banner.
    def busy_child() -> dict[str, Any] | None:
        ours = [task for task in active_tasks(worker) if task["id"] in event_ids]
        return ours[0] if ours else None

    victim = wait_until(busy_child, timeout=30, what="a pool child handling one of our events")
    victim_id, pid = victim["id"], int(victim["worker_pid"])
    code, output = worker.run("bash", "-c", f"kill -9 {pid}")
    assert code == 0, output
    wait_until(
        lambda: "WorkerLostError" in worker.logs(),
        timeout=30,
        what="the worker to notice its child was killed",
    )
    sink_paused()  # the sink answers again

    result = settle(domain=domain, produced=event_ids)
    # Received twice: once by the killed child, once more after the broker redelivered it.
    received = worker.logs().count(f"Task user.registered.v1[{victim_id}] received")
    assert received == 2, f"event {victim_id} received {received} times"
    assert result.handled == len(event_ids)
    note(f"pool child pid {pid} SIGKILLed while handling {victim_id}: received twice, handled once")
