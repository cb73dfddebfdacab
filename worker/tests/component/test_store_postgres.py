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


def _two_claims(store_a: SqlHandledEvents, store_b: SqlHandledEvents, *, fail: bool) -> list[str]:
    """A claims and holds; B claims the same id meanwhile. Returns the order of what happened."""
    event_id = uuid.uuid4()
    order: list[str] = []
    a_holds = threading.Event()

    def first() -> None:
        with store_a.claim(event_id, "user.registered.v1") as owned:
            assert owned is True
            a_holds.set()
            time.sleep(0.5)  # the side effect; B is blocked on the row meanwhile
            order.append("a-effect-done")
            if fail:
                raise ConnectionRefusedError("SMTP down")

    def second() -> None:
        assert a_holds.wait(timeout=10)
        with store_b.claim(event_id, "user.registered.v1") as owned:
            order.append(f"b-owned={owned}")

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(first), pool.submit(second)
        if fail:
            with pytest.raises(ConnectionRefusedError):
                a.result()
        else:
            a.result()
        b.result()
    assert store_a.is_handled(event_id)
    return order


def test_a_concurrent_claim_waits_then_sees_the_committed_event(database_url: str) -> None:
    # ON CONFLICT DO NOTHING waits for the in-flight claim's transaction, then
    # inserts nothing: the waiting delivery is a duplicate, one effect.
    engine = make_engine(database_url)
    try:
        store = SqlHandledEvents(engine)
        store.create_schema()
        assert _two_claims(store, SqlHandledEvents(engine), fail=False) == [
            "a-effect-done",
            "b-owned=False",
        ]
    finally:
        engine.dispose()


def test_a_concurrent_claim_takes_over_when_the_first_rolls_back(database_url: str) -> None:
    # The first delivery's handler fails: its claim rolls back, and the waiting
    # delivery's INSERT then goes through, so the effect is repeated, not lost.
    engine = make_engine(database_url)
    try:
        store = SqlHandledEvents(engine)
        store.create_schema()
        assert _two_claims(store, SqlHandledEvents(engine), fail=True) == [
            "a-effect-done",
            "b-owned=True",
        ]
    finally:
        engine.dispose()


def test_a_dead_pooled_connection_is_replaced_at_claim_time(database_url: str) -> None:
    # No pre-ping: a connection killed while idle in the pool (a server restart)
    # fails the claim's INSERT, which is retried once on a fresh connection.
    engine = make_engine(database_url)
    try:
        store = SqlHandledEvents(engine)
        store.create_schema()
        with store.claim(uuid.uuid4(), "user.registered.v1") as owned:
            assert owned is True
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (engine.url.database,),
            ).fetchone()
        assert killed is not None
        assert killed[0] >= 1
        event_id = uuid.uuid4()
        with store.claim(event_id, "user.registered.v1") as owned:
            assert owned is True
        assert store.is_handled(event_id)
        with store.claim(event_id, "user.registered.v1") as owned:
            assert owned is False
    finally:
        engine.dispose()


def test_a_connection_lost_during_the_handler_fails_the_commit_as_a_transient_error(
    database_url: str,
) -> None:
    from courier_worker.retry import is_transient

    engine = make_engine(database_url, synchronous_commit="off")
    try:
        store = SqlHandledEvents(engine)
        store.create_schema()
        event_id = uuid.uuid4()

        def kill_the_claims_connection() -> None:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (engine.url.database,),
                )

        raised: BaseException | None = None
        try:
            with store.claim(event_id, "user.registered.v1") as owned:
                assert owned is True
                kill_the_claims_connection()  # the handler's side effect happens meanwhile
        except Exception as exc:
            raised = exc
        assert raised is not None, "the commit on a dead connection did not fail"
        # Retried like any database outage (retry.is_transient), never dead-lettered
        # as a handler failure; nothing was recorded, so the retry runs the handler.
        assert is_transient(raised), repr(raised)
        assert not store.is_handled(event_id)
        with store.claim(event_id, "user.registered.v1") as owned:
            assert owned is True
        assert store.is_handled(event_id)
    finally:
        engine.dispose()


def test_synchronous_commit_is_set_per_connection(database_url: str) -> None:
    engine = make_engine(database_url, synchronous_commit="off")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    finally:
        engine.dispose()
