"""The worker while its PostgreSQL restarts: every event handled once, none dead-lettered.

The worker (a ``celery worker`` process) reaches a database created for the
test through ``DatabaseProxy``, which the test cuts and refuses (the
machine's PostgreSQL is never restarted). Its retry budget is one retry: an
outage that outlasts it must still dead-letter nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from courier_testkit.db_proxy import DatabaseProxy
from courier_worker.queues import CRITICAL
from shared_contracts import UserRegistered, encode, new_envelope

from tests.component.helpers import Broker, Worker, wait_for
from tests.component.test_store_postgres import ADMIN_URL

pytestmark = [pytest.mark.component, pytest.mark.timeout(180)]


@pytest.fixture
def database() -> Iterator[str]:
    name = f"courier_worker_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def proxy() -> Iterator[DatabaseProxy]:
    with DatabaseProxy() as proxy:
        yield proxy


@pytest.fixture
def worker(amqp_url: str, database: str, proxy: DatabaseProxy, tmp_path: Path) -> Iterator[Worker]:
    env = {
        "RABBITMQ_URL": amqp_url,
        "WORKER_DATABASE_URL": proxy.url(database),
        "WORKER_DB_CONNECT_TIMEOUT": "2",
        "WORKER_MAX_RETRIES": "1",
        "WORKER_RETRY_DELAYS": "1,2",
    }
    with Worker(tmp_path, env) as worker:
        yield worker


def registrations(count: int) -> list[Any]:
    tag = uuid.uuid4().hex[:8]
    return [
        new_envelope(
            UserRegistered(user_id=n + 1, email=f"db{n}-{tag}@example.com"),
            producer="web",
            correlation_id=f"req-{tag}-{n}",
        )
        for n in range(count)
    ]


def handled(worker: Worker) -> Counter[str]:
    return Counter(
        str(line["event_id"]) for line in worker.log_lines() if line.get("event") == "event.handled"
    )


def settled(worker: Worker) -> set[str]:
    """Events handled, or found already handled: a commit whose answer the outage
    swallowed is retried, and the retry finds the record (``event.duplicate``)."""
    return set(handled(worker)) | set(_count(worker, "event.duplicate"))


def _count(worker: Worker, event: str) -> Counter[str]:
    return Counter(
        str(line["event_id"]) for line in worker.log_lines() if line.get("event") == event
    )


def wait_until_all_handled(worker: Worker, ids: set[str], timeout: float) -> None:
    """Wait for ``ids`` to be settled; else fail naming what became of those that were not."""
    try:
        wait_for(lambda: ids <= settled(worker), timeout=timeout, what="every event handled")
    except AssertionError:
        missing = ids - settled(worker)
        story = {
            event_id: [
                (line.get("event"), str(line.get("error", ""))[:200])
                for line in worker.log_lines()
                if line.get("event_id") == event_id
            ]
            for event_id in sorted(missing)[:3]
        }
        raise AssertionError(f"{len(missing)} events never handled, e.g. {story}") from None


def no_dead_letters(broker: Broker, envelopes: list[Any]) -> None:
    for envelope in envelopes:
        assert broker.dead_letter(CRITICAL.dead_letter_queue, str(envelope.event_id)) is None


def test_an_outage_longer_than_the_retry_budget_dead_letters_nothing(
    worker: Worker, broker: Broker, proxy: DatabaseProxy
) -> None:
    proxy.down()  # the worker's database is away
    envelopes = registrations(10)
    for envelope in envelopes:
        broker.publish(encode(envelope))

    def retried_past_the_budget() -> bool:
        retries = [
            line
            for line in worker.log_lines()
            if line.get("event") == "event.retry_scheduled" and line.get("database_unavailable")
        ]
        return any(line["retry"] >= 3 for line in retries)  # the budget is 1

    wait_for(retried_past_the_budget, timeout=60, what="retries beyond WORKER_MAX_RETRIES")
    proxy.up()
    ids = {str(envelope.event_id) for envelope in envelopes}
    wait_until_all_handled(worker, ids, timeout=60)

    # Recorded once each; an email sent just before its record's commit was cut
    # may be sent again (at-least-once, as docs/reliability.md says).
    assert all(handled(worker)[event_id] <= 1 for event_id in ids)
    assert {path.stem for path in worker.emails()} >= ids
    no_dead_letters(broker, envelopes)
    assert not [line for line in worker.log_lines() if line.get("event") == "event.dead_lettered"]


def test_a_restart_while_a_backlog_drains_handles_each_event_once(
    worker: Worker, broker: Broker, proxy: DatabaseProxy
) -> None:
    envelopes = registrations(100)
    for envelope in envelopes:
        broker.publish(encode(envelope))
    wait_for(lambda: sum(handled(worker).values()) >= 30, timeout=60, what="the drain to start")

    proxy.restart(2.0)  # connections cut, refused for 2 s, then accepted again
    ids = {str(envelope.event_id) for envelope in envelopes}
    wait_until_all_handled(worker, ids, timeout=120)

    counts = handled(worker)
    assert [event_id for event_id in ids if counts[event_id] > 1] == []
    no_dead_letters(broker, envelopes)
    retried = [
        line
        for line in worker.log_lines()
        if line.get("event") == "event.retry_scheduled" and line.get("database_unavailable")
    ]
    print(f"{len(retried)} deliveries retried because the database restarted")
