"""Workers scale horizontally on the same queues: work spreads, nothing is handled twice."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from ..support.clients import WebClient, publish_registrations
from ..support.polling import wait_until
from ..support.stack import Stack

log = logging.getLogger(__name__)


@pytest.fixture
def scaled(stack: Stack) -> Iterator[Stack]:
    """The stack as the test leaves it, trimmed back to one worker afterwards."""
    assert len(stack.workers) == 1, "scaling tests start from a single worker"
    yield stack
    for worker in stack.workers[1:]:
        stack.remove_worker(worker)


def _event_id(mail: dict[str, object]) -> str:
    return str(mail["message_id"]).strip("<>").split("@", 1)[0]


def _emails_by_event(stack: Stack, domain: str, expected: int) -> Counter[str]:
    def all_arrived() -> list[dict[str, object]] | None:
        mails = stack.smtp.messages_to(domain)
        return mails if len(mails) >= expected else None

    mails = wait_until(all_arrived, timeout=240, what=f"{expected} emails to {domain}", interval=1)
    return Counter(_event_id(mail) for mail in mails)


def test_three_workers_share_300_registrations_once_each(
    scaled: Stack, web: WebClient, domain: str
) -> None:
    scaled.add_worker()
    scaled.add_worker()
    emails = [f"user{n}@{domain}" for n in range(300)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = Counter(response.status_code for response in pool.map(web.register, emails))

    assert statuses == {201: 300}
    by_event = _emails_by_event(scaled, domain, 300)
    assert len(by_event) == 300
    assert max(by_event.values()) == 1, "an event produced more than one email"
    share = {w.alias: len(w.handled_event_ids() & by_event.keys()) for w in scaled.workers}
    log.info("registrations handled per worker: %s", share)
    assert sum(share.values()) == 300
    assert sum(1 for count in share.values() if count > 0) >= 2, share


def test_workers_added_while_a_backlog_drains_handle_it_once(scaled: Stack, domain: str) -> None:
    emails = [f"backlog{n}@{domain}" for n in range(500)]
    connection = scaled.rabbitmq.connection()
    try:
        event_ids = publish_registrations(connection, emails, correlation_id=uuid.uuid4().hex)
    finally:
        connection.close()

    scaled.add_worker()
    scaled.add_worker()

    by_event = _emails_by_event(scaled, domain, 500)
    assert set(by_event) == set(event_ids)
    assert max(by_event.values()) == 1, "an event produced more than one email"
    share = {w.alias: len(w.handled_event_ids() & set(event_ids)) for w in scaled.workers}
    log.info("backlog events handled per worker: %s", share)
    assert sum(share.values()) == 500
