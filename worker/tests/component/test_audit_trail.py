"""The audit trail for real: a ``celery worker`` on SQLite fed through RabbitMQ, and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from courier_worker.audit_store import AuditEntry, SqlAuditTrail, audit_database_url
from courier_worker.settings import Settings
from courier_worker.store import SqlHandledEvents, make_engine
from shared_contracts import encode, new_envelope
from shared_contracts.events.audit import EntityChanged

from tests.component.helpers import Broker, Worker, wait_for

pytestmark = [pytest.mark.component, pytest.mark.timeout(120)]

ADMIN_URL = os.environ.get(
    "WORKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def change(entity_id: str, action: str, version: int, fields: tuple[str, ...] = ()) -> Any:
    payload = EntityChanged(
        entity="user",
        entity_id=entity_id,
        action=action,  # type: ignore[arg-type]
        version=version,
        changed_fields=fields,
        actor_id=int(entity_id),
    )
    return new_envelope(payload, producer="web", correlation_id=f"req-{action}-{entity_id}")


def audit_command(worker: Worker, entity_id: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "courier_worker.cli", "audit", "user", entity_id, "--json"],
        env=worker.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_changes_published_to_the_worker_are_kept_once_and_read_back(
    file_worker: Worker, broker: Broker
) -> None:
    entity_id = str(uuid.uuid4().int % 10**9 + 1)
    updated = change(entity_id, "updated", 2, ("display_name",))
    created = change(entity_id, "created", 1, ("display_name", "email"))
    for envelope in (updated, created, updated):  # out of order, and one twice
        broker.publish(encode(envelope))

    def both_kept() -> list[dict[str, Any]] | None:
        rows = audit_command(file_worker, entity_id)
        return rows if len(rows) == 2 else None

    rows = wait_for(both_kept, timeout=30, what="both changes in the trail")
    assert [(r["version"], r["action"], r["correlation_id"]) for r in rows] == [
        (1, "created", created.correlation_id),
        (2, "updated", updated.correlation_id),
    ]
    wait_for(
        lambda: file_worker.events("event.duplicate", updated.event_id),
        what="the second delivery to be turned away",
    )
    assert len(audit_command(file_worker, entity_id)) == 2
    assert (file_worker.home / "var" / "worker-audit.sqlite3").exists()


@pytest.fixture
def postgres_trail(monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlAuditTrail]:
    name = f"courier_worker_audit_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"component tests need PostgreSQL at {ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        monkeypatch.setenv("WORKER_DATABASE_URL", ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        url = Settings().database_url
        assert audit_database_url(url) == url  # the worker's own database
        engine = make_engine(url)
        try:
            yield SqlAuditTrail(engine)
        finally:
            engine.dispose()
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_concurrent_deliveries_of_one_change_keep_one_entry(postgres_trail: SqlAuditTrail) -> None:
    entry = AuditEntry.from_envelope(change("7", "updated", 2, ("display_name",)))
    postgres_trail.create_schema()
    barrier = threading.Barrier(4)

    def record(_: int) -> bool:
        barrier.wait(timeout=10)
        return postgres_trail.record(entry)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(record, range(4)))

    assert sorted(results) == [False, False, False, True]
    assert postgres_trail.entries("user", "7") == [entry]


def test_on_postgres_the_trail_is_written_while_the_claim_is_held(
    postgres_trail: SqlAuditTrail,
) -> None:
    # The handler runs inside the idempotency claim's open transaction, on
    # another connection of the same database: no wait, unlike one SQLite file.
    store = SqlHandledEvents(postgres_trail.engine)
    envelope = change("8", "deleted", 3)
    with store.claim(envelope.event_id, envelope.event_type) as owned:
        assert owned is True
        assert postgres_trail.record(AuditEntry.from_envelope(envelope)) is True

    assert store.is_handled(envelope.event_id)
    assert [e.action for e in postgres_trail.entries("user", "8")] == ["deleted"]
