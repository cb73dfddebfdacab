"""The worker's record of newsletter deliveries: one outcome per (newsletter, recipient).

A chunk of a newsletter may be delivered more than once (a redelivery after
a worker was killed, a retry after a transient SMTP failure), so the unit of
"exactly once" is the recipient, not the event: before sending to a
recipient, a delivery *claims* ``(newsletter_id, user_id)`` with an INSERT
in a transaction that stays open while the email is sent, and commits it
with the outcome (``sent``, or ``failed`` for a permanent refusal) right
after. The primary key does the rest, as for ``store.SqlHandledEvents``: a
concurrent claim of the same recipient waits on the open transaction and then
finds the outcome; a crash before the commit leaves no record, so the
recipient is sent to again on redelivery. The only window for a second copy
is a crash between the SMTP server's acceptance and this commit (one round
trip); the copy carries the same Message-ID.

Only the web's user id is kept, never an address (no personal data outlives
the account here).

Where: the worker's database on PostgreSQL; on SQLite a file of its own
beside the worker's (``worker-newsletters.sqlite3``): the handled-event claim
of the chunk holds the worker file's write lock while the chunk is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import structlog
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    delete,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from courier_worker.per_process import PerProcess, sidecar_database_url
from courier_worker.settings import Settings, get_settings
from courier_worker.store import make_engine

__all__ = [
    "Claim",
    "NewsletterStore",
    "Outcome",
    "make_newsletter_store",
    "newsletter_database_url",
    "newsletter_store",
    "use_newsletter_store",
]

Outcome = Literal["sent", "failed"]
log = structlog.get_logger(__name__)

metadata = MetaData()

newsletter_deliveries = Table(
    "newsletter_deliveries",
    metadata,
    Column("newsletter_id", Uuid(), nullable=False),
    Column("user_id", BigInteger(), nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("newsletter_id", "user_id", name="newsletter_deliveries_pk"),
)

#: One row per pace (``pacing.SendPace``): the next free send slot, in epoch seconds.
send_pace = Table(
    "send_pace",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("next_at", Float(), nullable=False),
)


@dataclass
class Claim:
    """A recipient this delivery owns until it records what happened.

    ``commit_sent`` commits "sent" at once (the point of no return of an
    SMTP delivery, ``newsletter_delivery``); ``record`` says the outcome,
    committed when the claim's block ends.
    """

    newsletter_id: uuid.UUID
    user_id: int
    _commit: Callable[[], None] = field(repr=False)
    outcome: Outcome | None = None
    committed: bool = False

    def commit_sent(self) -> None:
        self._commit()
        self.committed = True

    def record(self, outcome: Outcome) -> None:
        self.outcome = outcome


class NewsletterStore:
    """Delivery outcomes (and the send paces) in SQL tables, through SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._schema_ready = False

    def outcomes(self, newsletter_id: uuid.UUID, user_ids: Iterable[int]) -> dict[int, Outcome]:
        """The recorded outcome of each of ``user_ids`` that has one."""
        wanted = list(user_ids)
        if not wanted:
            return {}
        columns = newsletter_deliveries.c
        query = select(columns.user_id, columns.outcome).where(
            columns.newsletter_id == newsletter_id, columns.user_id.in_(wanted)
        )
        with self._connect() as conn:
            return {int(row[0]): row[1] for row in conn.execute(query)}

    @contextmanager
    def claim(self, newsletter_id: uuid.UUID, user_id: int) -> Iterator[Claim | None]:
        """Own the recipient for the block, or learn (None) that it already has an outcome.

        The claim is an INSERT of the row as "sent" in a transaction left open
        (nobody else sees it; a concurrent claim of the same recipient waits for
        it). The block must ``record`` an outcome, committed when it exits
        normally. An exception (or a crash) before ``commit_sent`` leaves no
        record; an exception after it removes the record, so that a retry
        sends again (the server refused the message after all).
        """
        self._ensure_schema()
        with self.engine.connect() as conn:
            transaction = conn.begin()
            claim: Claim | None = None
            try:
                inserted = conn.execute(
                    self.insert(newsletter_deliveries)
                    .values(
                        newsletter_id=newsletter_id,
                        user_id=user_id,
                        outcome="sent",
                        decided_at=datetime.now(UTC),
                    )
                    .on_conflict_do_nothing(index_elements=["newsletter_id", "user_id"])
                    .returning(newsletter_deliveries.c.user_id)
                ).first()
                if inserted is None:
                    transaction.rollback()
                    yield None
                    return
                claim = Claim(newsletter_id, user_id, transaction.commit)
                yield claim
                if claim.outcome is None:
                    raise RuntimeError("a newsletter claim ended without an outcome")
                if claim.outcome != "sent":
                    self._set_outcome(conn, claim, claim.outcome)
                if transaction.is_active:
                    transaction.commit()
                elif conn.in_transaction():
                    conn.commit()
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                elif claim is not None and claim.committed:
                    self._undo(conn, claim)
                raise

    def _set_outcome(self, conn: Connection, claim: Claim, outcome: Outcome) -> None:
        columns = newsletter_deliveries.c
        conn.execute(
            update(newsletter_deliveries)
            .where(columns.newsletter_id == claim.newsletter_id, columns.user_id == claim.user_id)
            .values(outcome=outcome, decided_at=datetime.now(UTC))
        )

    def _undo(self, conn: Connection, claim: Claim) -> None:
        columns = newsletter_deliveries.c
        try:
            if conn.in_transaction():
                conn.rollback()
            conn.execute(
                delete(newsletter_deliveries).where(
                    columns.newsletter_id == claim.newsletter_id,
                    columns.user_id == claim.user_id,
                )
            )
            conn.commit()
        except Exception:  # the database is away too: the record stays, the email may be lost
            log.exception("newsletter.undo_failed", user_id=claim.user_id)

    # -- schema ----------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the tables if missing; safe to call from several processes at once."""
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (IntegrityError, OperationalError, ProgrammingError):
            existing = inspect(self.engine)
            if not all(existing.has_table(table.name) for table in metadata.sorted_tables):
                raise
        self._schema_ready = True

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT of ``table`` that knows ``ON CONFLICT`` on this dialect."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        self._ensure_schema()
        with self.engine.connect() as conn:
            yield conn

    def _ensure_schema(self) -> None:
        # On first use, as the other stores: a database that is down fails
        # (and retries) a delivery, not the worker's start.
        if not self._schema_ready:
            self.create_schema()


def newsletter_database_url(database_url: str) -> str:
    """The deliveries' database: the worker's own, or on SQLite a file beside it."""
    return sidecar_database_url(database_url, "newsletters")


def make_newsletter_store(settings: Settings) -> NewsletterStore:
    """The store on the settings' database; its tables are created on first use."""
    engine = make_engine(
        newsletter_database_url(settings.database_url),
        # As the handled-event records: ``off`` keeps the commit just before the final
        # dot short (the pace holds at the server); a database *crash* may then forget
        # the last fraction of a second of outcomes, i.e. a few second copies.
        synchronous_commit=settings.WORKER_DB_SYNCHRONOUS_COMMIT,
        connect_timeout=settings.WORKER_DB_CONNECT_TIMEOUT,
    )
    return NewsletterStore(engine)


_stores: PerProcess[NewsletterStore] = PerProcess(lambda: make_newsletter_store(get_settings()))


def newsletter_store() -> NewsletterStore:
    """This process's store, built on first use (per process: no engine survives a fork)."""
    return _stores.get()


def use_newsletter_store(store: NewsletterStore) -> AbstractContextManager[NewsletterStore]:
    """Use ``store`` in this process inside the block (tests); the next use builds afresh."""
    return _stores.use(store)
