"""The handled-events store on PostgreSQL (a throwaway database on the local server)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from courier_worker.settings import Settings
from courier_worker.store import SqlHandledEvents, make_engine

pytestmark = [pytest.mark.component, pytest.mark.timeout(60)]

ADMIN_URL = os.environ.get(
    "WORKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"courier_worker_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"component tests need PostgreSQL at {ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            # Plain postgresql:// as operators write it; Settings picks the psycopg driver.
            monkeypatch.setenv("WORKER_DATABASE_URL", ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
            yield Settings().database_url
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_concurrent_deliveries_claim_once(database_url: str) -> None:
    assert database_url.startswith("postgresql+psycopg://")
    engine = make_engine(database_url)
    try:
        stores = [SqlHandledEvents(engine) for _ in range(4)]
        with ThreadPoolExecutor(4) as pool:  # concurrent create_schema must not fail
            list(pool.map(lambda store: store.create_schema(), stores))
        event_id = uuid.uuid4()
        assert not stores[0].is_handled(event_id)
        # Four concurrent deliveries: the first claim blocks the others until it
        # commits, and then they see the event as handled.
        barrier = threading.Barrier(4)

        def deliver(store: SqlHandledEvents) -> bool:
            barrier.wait(timeout=10)
            with store.claim(event_id, "user.registered.v1") as owned:
                if owned:
                    time.sleep(0.3)  # a slow side effect, while the others wait
                return owned

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(deliver, stores))
        assert sorted(results) == [False, False, False, True]
        assert stores[1].is_handled(event_id)
    finally:
        engine.dispose()
