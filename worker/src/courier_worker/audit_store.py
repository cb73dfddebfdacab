"""The audit trail the worker keeps: which web record changed, how, by whom, in which request.

One row per ``entity.changed.v1`` event, keyed by its event id, so a second
delivery of an event adds nothing (``INSERT .. ON CONFLICT DO NOTHING``),
whatever the idempotency guard saw. It holds ids and field *names* only,
never a value, so no personal data outlives an account here.

Where: the table ``audit_entries`` of the worker's database on PostgreSQL.
On SQLite, a file of its own beside the worker's (``worker.sqlite3`` ->
``worker-audit.sqlite3``): SQLite has one writer at a time, and the
idempotency claim holds the worker file's write lock while a handler runs,
so a handler writing to that same file would wait for itself.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shared_contracts import Envelope
from shared_contracts.events.audit import EntityChanged
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from courier_worker.per_process import PerProcess, sidecar_database_url
from courier_worker.settings import Settings, get_settings
from courier_worker.store import make_engine

__all__ = [
    "AuditEntry",
    "AuditTrail",
    "SqlAuditTrail",
    "audit_database_url",
    "audit_trail",
    "make_audit_trail",
    "use_audit_trail",
]

metadata = MetaData()

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("event_id", Uuid(), primary_key=True),
    Column("entity", String(64), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("version", BigInteger(), nullable=False),
    Column("action", String(16), nullable=False),
    Column("changed_fields", JSON(), nullable=False),
    Column("actor_id", BigInteger(), nullable=True),
    Column("correlation_id", String(128), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("audit_entries_entity_idx", "entity", "entity_id", "version"),
)


@dataclass(frozen=True)
class AuditEntry:
    """One change of one record, as the trail keeps it."""

    event_id: uuid.UUID
    entity: str
    entity_id: str
    version: int
    action: str
    changed_fields: tuple[str, ...]
    actor_id: int | None
    correlation_id: str
    occurred_at: datetime

    @classmethod
    def from_envelope(cls, envelope: Envelope[EntityChanged]) -> AuditEntry:
        change = envelope.payload
        return cls(
            event_id=envelope.event_id,
            entity=change.entity,
            entity_id=change.entity_id,
            version=change.version,
            action=change.action,
            changed_fields=tuple(change.changed_fields),
            actor_id=change.actor_id,
            correlation_id=envelope.correlation_id,
            occurred_at=envelope.occurred_at,
        )

    def as_json(self) -> dict[str, Any]:
        """The entry as ``courier-worker audit --json`` prints it."""
        fields = asdict(self)
        fields.update(
            event_id=str(self.event_id),
            changed_fields=list(self.changed_fields),
            occurred_at=self.occurred_at.isoformat(),
        )
        return fields

    def line(self) -> str:
        """The entry as one line of text, for people."""
        actor = f"user {self.actor_id}" if self.actor_id is not None else "no user"
        fields = ", ".join(self.changed_fields) or "-"
        when = self.occurred_at.isoformat(timespec="seconds")
        return (
            f"{when}  v{self.version}  {self.action:<7}  {fields}  "
            f"by {actor}  request {self.correlation_id}  event {self.event_id}"
        )


class AuditTrail(Protocol):
    """Where the worker keeps the changes of the web's records."""

    def record(self, entry: AuditEntry) -> bool:
        """Keep ``entry``; False when its event is already kept (nothing is added)."""
        ...

    def entries(self, entity: str, entity_id: str) -> list[AuditEntry]:
        """The record's changes, oldest first (by version, then time)."""
        ...


class SqlAuditTrail:
    """``AuditTrail`` in a SQL table (PostgreSQL or SQLite), through SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._schema_ready = False

    def record(self, entry: AuditEntry) -> bool:
        self._ensure_schema()
        values = {
            **asdict(entry),
            "changed_fields": list(entry.changed_fields),
            "recorded_at": datetime.now(UTC),
        }
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(audit_entries)
            .values(values)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(audit_entries.c.event_id)
        )
        with self.engine.begin() as conn:
            # A row comes back only when this call inserted it (rowcount is not
            # to be trusted with ON CONFLICT on every driver).
            return conn.execute(statement).first() is not None

    def entries(self, entity: str, entity_id: str) -> list[AuditEntry]:
        self._ensure_schema()
        columns = audit_entries.c
        query = (
            select(audit_entries)
            .where(columns.entity == entity, columns.entity_id == entity_id)
            .order_by(columns.version, columns.occurred_at, columns.event_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_entry(row) for row in rows]

    def prune(self, before: datetime) -> int:
        """Forget the entries recorded before ``before`` (the retention job); how many went."""
        self._ensure_schema()
        statement = delete(audit_entries).where(audit_entries.c.recorded_at < before)
        with self.engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def create_schema(self) -> None:
        """Create the table if missing; safe to call from several processes at once."""
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (IntegrityError, OperationalError, ProgrammingError):
            # Another process won the race to CREATE TABLE; fine if the table is there now.
            if not inspect(self.engine).has_table(audit_entries.name):
                raise
        self._schema_ready = True

    def _ensure_schema(self) -> None:
        # On first use, as the handled-events store: a database that is down
        # fails (and retries) a delivery, not the worker's start.
        if not self._schema_ready:
            self.create_schema()


def _entry(row: Any) -> AuditEntry:
    occurred_at: datetime = row["occurred_at"]
    if occurred_at.tzinfo is None:  # SQLite keeps no offset; everything stored is UTC
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return AuditEntry(
        event_id=row["event_id"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        version=row["version"],
        action=row["action"],
        changed_fields=tuple(row["changed_fields"]),
        actor_id=row["actor_id"],
        correlation_id=row["correlation_id"],
        occurred_at=occurred_at,
    )


def audit_database_url(database_url: str) -> str:
    """The trail's database: the worker's own, or on SQLite a file beside it (see above)."""
    return sidecar_database_url(database_url, "audit")


def make_audit_trail(settings: Settings) -> SqlAuditTrail:
    """A trail on the settings' database; its table is created on first use."""
    engine = make_engine(
        audit_database_url(settings.database_url),
        synchronous_commit=settings.WORKER_DB_SYNCHRONOUS_COMMIT,
        connect_timeout=settings.WORKER_DB_CONNECT_TIMEOUT,
    )
    return SqlAuditTrail(engine)


_trails: PerProcess[AuditTrail] = PerProcess(lambda: make_audit_trail(get_settings()))


def audit_trail() -> AuditTrail:
    """This process's trail, built on first use (per process: engines do not survive a fork)."""
    return _trails.get()


def use_audit_trail(trail: AuditTrail) -> AbstractContextManager[AuditTrail]:
    """Use ``trail`` in this process inside the block (tests); the next use builds afresh."""
    return _trails.use(trail)
