"""The audit trail: its store (SQLite), its handler through the real task path, its command."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from courier_worker import cli
from courier_worker.audit_store import (
    AuditEntry,
    SqlAuditTrail,
    audit_database_url,
    make_audit_trail,
    use_audit_trail,
)
from courier_worker.celery_app import app
from courier_worker.handlers import Dependencies
from courier_worker.handlers.audit import record_entity_change
from courier_worker.settings import get_settings
from courier_worker.store import make_engine
from shared_contracts import Envelope, new_envelope
from shared_contracts.events.audit import EntityChanged
from sqlalchemy import inspect

from tests.fakes import FakeMailer

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def change(
    action: str = "updated",
    version: int = 2,
    *,
    entity: str = "user",
    entity_id: str = "7",
    fields: tuple[str, ...] = ("display_name",),
    actor_id: int | None = 7,
    correlation_id: str = "req-1",
    at: datetime = T0,
) -> Envelope[EntityChanged]:
    payload = EntityChanged(
        entity=entity,
        entity_id=entity_id,
        action=action,  # type: ignore[arg-type]
        version=version,
        changed_fields=fields,
        actor_id=actor_id,
    )
    return new_envelope(
        payload, producer="courier-web", correlation_id=correlation_id, occurred_at=at
    )


@pytest.fixture
def trail(worker_home: Path) -> Iterator[SqlAuditTrail]:
    """The trail the settings give (a SQLite file beside the worker's), used by the handler."""
    built = make_audit_trail(get_settings())
    with use_audit_trail(built):
        yield built
    built.engine.dispose()


def test_entries_come_back_oldest_first_and_per_record(trail: SqlAuditTrail) -> None:
    for envelope in [
        change("deleted", 3, fields=(), at=T0 + timedelta(minutes=2)),
        change("created", 1, fields=("display_name", "email"), actor_id=None),
        change("updated", 2, at=T0 + timedelta(minutes=1)),
        change("created", 1, entity="profile"),
        change("created", 1, entity_id="8"),
    ]:
        assert trail.record(AuditEntry.from_envelope(envelope)) is True

    entries = trail.entries("user", "7")

    assert [(e.action, e.version, e.changed_fields) for e in entries] == [
        ("created", 1, ("display_name", "email")),
        ("updated", 2, ("display_name",)),
        ("deleted", 3, ()),
    ]
    assert entries[1].occurred_at == T0 + timedelta(minutes=1)
    assert trail.entries("user", "404") == []


def test_the_same_event_is_kept_once(trail: SqlAuditTrail) -> None:
    entry = AuditEntry.from_envelope(change())

    assert trail.record(entry) is True
    assert trail.record(entry) is False

    assert trail.entries("user", "7") == [entry]


def test_the_handler_records_the_change_with_its_request_and_actor(trail: SqlAuditTrail) -> None:
    envelope = change(correlation_id="rename-42")

    record_entity_change(envelope, Dependencies(mailer=FakeMailer(), mail_from="a@b.invalid"))

    (entry,) = trail.entries("user", "7")
    assert entry.as_json() == {
        "event_id": str(envelope.event_id),
        "entity": "user",
        "entity_id": "7",
        "version": 2,
        "action": "updated",
        "changed_fields": ["display_name"],
        "actor_id": 7,
        "correlation_id": "rename-42",
        "occurred_at": T0.isoformat(),
    }


def deliver(envelope: Envelope[Any]) -> Any:
    kwargs = {"event": envelope.model_dump(mode="json")}
    task = app.tasks[envelope.event_type]
    return task.apply(kwargs=kwargs, task_id=str(envelope.event_id)).get()


def test_through_the_task_and_the_idempotency_claim_on_sqlite(trail: SqlAuditTrail) -> None:
    # The real container: the claim holds the worker file's write lock while the
    # handler writes the trail, which is why the trail has a file of its own.
    envelope = change()

    assert deliver(envelope) == "handled"
    assert deliver(envelope) == "duplicate"

    assert [e.event_id for e in trail.entries("user", "7")] == [envelope.event_id]


def test_on_sqlite_the_trail_has_a_file_beside_the_workers() -> None:
    assert audit_database_url("sqlite:////srv/var/worker.sqlite3") == (
        "sqlite:////srv/var/worker-audit.sqlite3"
    )
    assert audit_database_url("sqlite:///var/worker") == "sqlite:///var/worker-audit"
    assert audit_database_url("sqlite://") == "sqlite://"
    url = "postgresql+psycopg://courier:secret@db:5432/courier_worker"
    assert audit_database_url(url) == url  # a table in the worker's own database


def test_the_audit_command_prints_the_trail_oldest_first(
    trail: SqlAuditTrail, capsys: pytest.CaptureFixture[str]
) -> None:
    deleted = change("deleted", 3, fields=(), correlation_id="bye-1", at=T0 + timedelta(hours=1))
    updated = change(correlation_id="rename-42")
    for envelope in (deleted, updated):
        trail.record(AuditEntry.from_envelope(envelope))

    assert cli.main(["audit", "user", "7", "--json"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["action"], r["correlation_id"]) for r in rows] == [
        ("updated", "rename-42"),
        ("deleted", "bye-1"),
    ]
    assert "2 audit entries" in err

    assert cli.main(["audit", "user", "7"]) == 0
    out, _ = capsys.readouterr()
    first, second = out.splitlines()
    assert "v2" in first
    assert "display_name" in first
    assert "by user 7" in first
    assert "request rename-42" in first
    assert "deleted" in second


def test_a_record_with_no_trail_prints_nothing_and_says_so(
    trail: SqlAuditTrail, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["audit", "profile", str(uuid.uuid4())]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "0 audit entries" in err


def test_an_unreachable_database_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKER_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()

    assert cli.main(["audit", "user", "7"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("cannot read the audit trail: OperationalError")
    assert "Traceback" not in err


def test_init_db_creates_the_trail_too(worker_home: Path) -> None:
    assert cli.main(["init-db"]) == 0

    url = audit_database_url(get_settings().database_url)
    engine = make_engine(url)
    try:
        assert inspect(engine).has_table("audit_entries")
    finally:
        engine.dispose()
