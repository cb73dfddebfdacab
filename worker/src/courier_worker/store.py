"""The worker's own database: which events it has already handled.

SQLAlchemy Core on SQLite (default) or PostgreSQL (``postgresql+psycopg://``).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Uuid,
    create_engine,
    event,
    exists,
    insert,
    inspect,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RootTransaction, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.sql import Executable

metadata = MetaData()

handled_events = Table(
    "handled_events",
    metadata,
    Column("event_id", Uuid(), primary_key=True),
    Column("event_type", String(128), nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False),
)


class HandledEvents(Protocol):
    """The record of event ids whose side effects have happened."""

    def is_handled(self, event_id: uuid.UUID) -> bool: ...

    def claim(self, event_id: uuid.UUID, event_type: str) -> AbstractContextManager[bool]:
        """Own ``event_id`` for the duration of the block, or learn it was already handled.

        Yields False when the event is already recorded. Yields True otherwise,
        and records the event when the block exits normally; an exception (or a
        crash) inside the block leaves no record. While one delivery holds the
        claim, a concurrent claim of the same event waits for its outcome.
        """
        ...


class SqlHandledEvents:
    """``HandledEvents`` in a SQL table, through SQLAlchemy Core.

    A claim is an INSERT in a transaction kept open around the side effect and
    committed after it. The primary key does the rest: a second delivery's
    INSERT of the same id waits on the open transaction, then inserts nothing
    (the first committed: a duplicate) or inserts (the first rolled back or its
    process died, which closes its connection). No lease can expire on a live
    handler. The INSERT itself tells a duplicate (``ON CONFLICT DO NOTHING
    RETURNING``), so a delivery costs BEGIN, INSERT and COMMIT, with no read
    before it.
    On SQLite this serialises handlers on the database's write lock, which
    suits the embedded default; PostgreSQL locks only the one row.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._schema_ready = False
        self._upsert = _claim_statement(engine.dialect.name)

    def is_handled(self, event_id: uuid.UUID) -> bool:
        self._ensure_schema()
        query = select(exists().where(handled_events.c.event_id == event_id))
        with self.engine.connect() as conn:
            return bool(conn.execute(query).scalar())

    @contextmanager
    def claim(self, event_id: uuid.UUID, event_type: str) -> Iterator[bool]:
        self._ensure_schema()
        row = {"event_id": event_id, "event_type": event_type, "handled_at": datetime.now(UTC)}
        conn, transaction, owned = self._insert_claim(row)
        with conn:
            if not owned:
                transaction.rollback()
                yield False
                return
            try:
                yield True
            except BaseException:
                transaction.rollback()
                raise
            transaction.commit()

    def _insert_claim(self, row: dict[str, Any]) -> tuple[Connection, RootTransaction, bool]:
        """Begin a transaction and INSERT the claim: one statement, which also tells a duplicate.

        ``INSERT .. ON CONFLICT (event_id) DO NOTHING RETURNING event_id`` returns
        the row when this delivery owns the event and nothing when a committed
        row is there (on PostgreSQL, after waiting for a concurrent claim's
        transaction to end, like a plain INSERT does). A pooled connection found
        dead here (the server restarted since it was last used) is replaced
        once: nothing has happened yet, so the INSERT can simply run again.
        """
        for attempt in (1, 2):
            conn = self.engine.connect()
            try:
                transaction = conn.begin()
                owned = self._execute_claim(conn, row)
            except DBAPIError as exc:
                conn.close()
                if attempt == 1 and exc.connection_invalidated:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            return conn, transaction, owned
        raise AssertionError("unreachable")  # pragma: no cover

    def _execute_claim(self, conn: Connection, row: dict[str, Any]) -> bool:
        if self._upsert is not None:
            return conn.execute(self._upsert, row).first() is not None
        try:  # no ON CONFLICT .. RETURNING here: the primary key raises instead
            conn.execute(insert(handled_events), row)
        except IntegrityError:
            return False  # the caller rolls the failed transaction back
        return True

    def create_schema(self) -> None:
        """Create the tables if missing; safe to call from several processes at once."""
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (IntegrityError, OperationalError, ProgrammingError):
            # Another process won the race to CREATE TABLE; fine if the table is there now.
            if not inspect(self.engine).has_table(handled_events.name):
                raise
        self._schema_ready = True

    def _ensure_schema(self) -> None:
        # On first use rather than when the worker's container is built: a
        # database that is down then fails a delivery (which is retried), not
        # the building of every later one.
        if not self._schema_ready:
            self.create_schema()


def _claim_statement(dialect: str) -> Executable | None:
    """The claim as one INSERT that returns the row it inserted, nothing for a duplicate."""
    key = [handled_events.c.event_id]
    if dialect == "postgresql":
        return (
            postgresql_insert(handled_events)
            .on_conflict_do_nothing(index_elements=key)
            .returning(handled_events.c.event_id)
        )
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):  # RETURNING
        return (
            sqlite_insert(handled_events)
            .on_conflict_do_nothing(index_elements=key)
            .returning(handled_events.c.event_id)
        )
    return None


# Connections are not pinged on checkout (a round trip per delivery). A pooled
# connection that died since its last use fails its next statement; SQLAlchemy
# then invalidates it and every older one in the pool, and ``claim`` retries the
# INSERT once on a fresh connection. Recycling bounds the age of idle
# connections that firewalls and poolers silently drop.
POOL_RECYCLE_SECONDS = 1800


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder, WAL mode and a lock timeout."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_recycle": POOL_RECYCLE_SECONDS}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Several pool processes share one file: wait for its lock instead of failing.
        kwargs = {"connect_args": {"timeout": 30}}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
