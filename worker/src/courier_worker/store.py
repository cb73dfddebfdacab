"""The worker's own database: which events it has already handled.

SQLAlchemy Core on SQLite (default) or PostgreSQL (``postgresql+psycopg://``).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    StatementError,
)
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

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
        self._claim = _DriverClaim.for_dialect(engine.dialect)
        #: The connection of the claim this thread holds open, if any (``prune``).
        self._held = threading.local()

    def is_handled(self, event_id: uuid.UUID) -> bool:
        self._ensure_schema()
        query = select(exists().where(handled_events.c.event_id == event_id))
        with self.engine.connect() as conn:
            return bool(conn.execute(query).scalar())

    @contextmanager
    def claim(self, event_id: uuid.UUID, event_type: str) -> Iterator[bool]:
        self._ensure_schema()
        conn, owned = self._insert_claim(event_id, event_type)
        try:
            if not owned:
                conn.rollback()
                yield False
                return
            self._held.conn = conn
            try:
                yield True
            except BaseException:
                self._end(conn, conn.rollback)
                raise
            finally:
                self._held.conn = None
            self._end(conn, conn.commit)
        finally:
            conn.close()  # back to the pool (a rollback there ends anything left open)

    def count_handled(self, event_type: str, start: datetime, end: datetime) -> int:
        """How many events of ``event_type`` were recorded as handled in ``[start, end)``."""
        self._ensure_schema()
        columns = handled_events.c
        query = (
            select(func.count())
            .select_from(handled_events)
            .where(
                columns.event_type == event_type,
                columns.handled_at >= start,
                columns.handled_at < end,
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def prune(self, before: datetime) -> int:
        """Forget the records handled before ``before``; returns how many went.

        Called by a handler (the retention job), it runs in that handler's own
        claim transaction and commits with it: on SQLite the claim holds the
        file's write lock, and a DELETE on another connection would wait for
        it until it timed out. A redelivery of a pruned event would be handled
        again, so the retention must be far longer than any redelivery.
        """
        self._ensure_schema()
        held = getattr(self._held, "conn", None)
        if held is None:
            statement = delete(handled_events).where(handled_events.c.handled_at < before)
            with self.engine.begin() as conn:
                return int(conn.execute(statement).rowcount)
        return self._claim.prune(held, before)

    def _end(self, conn: Any, finish: Callable[[], None]) -> None:
        """Commit or roll back; a failure (the connection lost meanwhile) surfaces as
        SQLAlchemy's error type, which ``retry.is_transient`` knows, and never hands the
        dead connection back to the pool."""
        try:
            finish()
        except self._claim.driver_error as exc:
            if self._claim.is_disconnect(exc, conn):
                conn.invalidate(exc)
            raise self._claim.wrap(exc) from exc

    def _insert_claim(self, event_id: uuid.UUID, event_type: str) -> tuple[Any, bool]:
        """Open a transaction with the claim's INSERT in it; True when this delivery owns the event.

        ``INSERT .. ON CONFLICT (event_id) DO NOTHING RETURNING event_id`` returns
        the row when this delivery owns the event and nothing when a committed
        row is there (on PostgreSQL, after waiting for a concurrent claim's
        transaction to end, like a plain INSERT does). A pooled connection found
        dead here (the server restarted since it was last used) is replaced
        once: nothing has happened yet, so the INSERT can simply run again.

        This runs once per delivery, so it talks to the pooled driver connection
        directly (the statement compiled once, ``_DriverClaim``): SQLAlchemy's
        per-execution machinery cost more CPU than the round trips themselves.
        """
        for attempt in (1, 2):
            conn = self.engine.raw_connection()
            try:
                return conn, self._claim.execute(conn, event_id, event_type)
            except BaseException as exc:
                dead = self._claim.is_disconnect(exc, conn)
                if dead:
                    conn.invalidate(exc)
                conn.close()
                if attempt == 1 and dead:
                    continue
                if isinstance(exc, self._claim.driver_error):
                    raise self._claim.wrap(exc) from exc
                raise
        raise AssertionError("unreachable")  # pragma: no cover

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


#: The claim as one INSERT that returns the row it inserted and nothing for a
#: duplicate (PostgreSQL, and SQLite from 3.35).
_CLAIM_SQL = text(
    "INSERT INTO handled_events (event_id, event_type, handled_at)"
    " VALUES (:event_id, :event_type, :handled_at)"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
).bindparams(
    bindparam("event_id", type_=Uuid()),
    bindparam("event_type", type_=String()),
    bindparam("handled_at", type_=DateTime(timezone=True)),
)


@dataclass(frozen=True)
class _DriverClaim:
    """The claim INSERT compiled once for a dialect, run on a raw driver connection.

    Values go through the same type processors SQLAlchemy would apply (a UUID
    is stored as 32 hex characters on SQLite, natively on PostgreSQL), so rows
    read back through SQLAlchemy look the same whichever path wrote them.
    """

    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark/format styles
    processors: dict[str, Callable[[Any], Any]]
    returning: bool  # False: old SQLite, the primary key raises instead
    driver_error: type[Exception]
    dialect: Dialect

    @classmethod
    def for_dialect(cls, dialect: Dialect) -> _DriverClaim:
        returning = dialect.name == "postgresql" or (
            dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)
        )
        statement: ClauseElement = _CLAIM_SQL if returning else insert(handled_events)
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        processors: dict[str, Callable[[Any], Any]] = {}
        for name, column_type in (
            ("event_id", Uuid()),
            ("event_type", String()),
            ("handled_at", DateTime(timezone=True)),
        ):
            processor = column_type.bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        positional = tuple(compiled.positiontup) if compiled.positiontup else None
        dbapi = dialect.loaded_dbapi
        return cls(str(compiled), positional, processors, returning, dbapi.Error, dialect)

    def execute(self, conn: Any, event_id: uuid.UUID, event_type: str) -> bool:
        values: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "handled_at": datetime.now(UTC),
        }
        for name, processor in self.processors.items():
            values[name] = processor(values[name])
        params: Any = tuple(values[name] for name in self.positional) if self.positional else values
        cursor = conn.cursor()
        try:
            if not self.returning:
                try:
                    cursor.execute(self.sql, params)
                except self.dialect.loaded_dbapi.IntegrityError:
                    return False  # the caller rolls the failed transaction back
                return True
            cursor.execute(self.sql, params)
            return cursor.fetchone() is not None
        finally:
            cursor.close()

    def prune(self, conn: Any, before: datetime) -> int:
        """``DELETE`` the records handled before ``before`` on ``conn``, in its transaction."""
        statement = delete(handled_events).where(
            handled_events.c.handled_at < bindparam("before", type_=DateTime(timezone=True))
        )
        compiled = statement.compile(dialect=self.dialect)
        processor = DateTime(timezone=True).bind_processor(self.dialect)
        value = processor(before) if processor is not None else before
        params: Any = (value,) if compiled.positiontup else {"before": value}
        cursor = conn.cursor()
        try:
            cursor.execute(str(compiled), params)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def wrap(self, exc: Exception) -> StatementError:
        """The driver's error as SQLAlchemy raises it (``OperationalError`` and so on)."""
        return DBAPIError.instance(self.sql, None, exc, self.driver_error)

    def is_disconnect(self, exc: BaseException, conn: Any) -> bool:
        if not isinstance(exc, self.driver_error):
            return False
        return bool(self.dialect.is_disconnect(cast(Any, exc), conn.dbapi_connection, None))


# Connections are not pinged on checkout (a round trip per delivery). A pooled
# connection that died since its last use (the server restarted or failed over)
# fails its next statement; SQLAlchemy then invalidates it and every older one in
# the pool, and ``claim`` retries the INSERT once on a fresh connection. Recycling
# bounds the age of idle connections that firewalls and poolers silently drop.
POOL_RECYCLE_SECONDS = 1800
#: libpq ``connect_timeout`` (seconds) unless the caller says otherwise
#: (``WORKER_DB_CONNECT_TIMEOUT``): a database that is away fails a delivery
#: (which is retried) instead of hanging it.
DEFAULT_CONNECT_TIMEOUT = 5
#: TCP keepalives find a connection whose server vanished without closing it
#: (a failover, a network cut) in about a minute instead of the kernel's hours.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def make_engine(
    url: str,
    *,
    synchronous_commit: str | None = None,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
) -> Engine:
    """An engine for ``url``; SQLite files get their folder, WAL mode and a lock timeout.

    ``synchronous_commit`` (PostgreSQL only) is set on each new connection, at
    connect time, so it costs no round trip per delivery. ``"off"`` makes a
    claim's COMMIT return before its WAL record is flushed; a database crash
    can then forget the last few hundred milliseconds of records, so an event
    delivered again after that handles again (one repeated side effect), and
    nothing is ever lost (docs/reliability.md).

    On PostgreSQL, statements are never prepared server-side: through a
    transaction pooler (PgBouncer) the next statement may run on another
    server connection, where the prepared statement does not exist, and that
    error would not be transient. Startup ``options`` are dropped by PgBouncer
    configured with ``ignore_startup_parameters = options`` (docs/outbox.md).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_recycle": POOL_RECYCLE_SECONDS}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Several pool processes share one file: wait for its lock instead of failing.
        kwargs = {"connect_args": {"timeout": 30}}
    elif parsed.get_backend_name() == "postgresql":
        connect_args: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "prepare_threshold": None,
            **_KEEPALIVES,
        }
        if synchronous_commit:
            connect_args["options"] = f"-c synchronous_commit={synchronous_commit}"
        kwargs["connect_args"] = connect_args
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
