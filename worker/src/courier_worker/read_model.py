"""The worker's own read model of the web's users, projected from the events it receives.

Built from ``user.registered.v1`` (who: id, email, display name, when) and
the audit events ``entity.changed.v1`` of entity ``user`` (a per-user
``version``, and the deletion). Reports read it; the web's database is never
read. Events may arrive in any order (retries, several workers), so each row
keeps the highest version it has seen and a change applies only when it is
newer:

* ``user.registered.v1`` is the account's creation (version 1): it inserts the
  row unless one is there already (a later version, or a tombstone);
* ``entity.changed.v1`` ``created``/``updated`` raise the row's version and
  take the new email and display name it carries (its ``values``, revision 2
  on; a revision-1 change raises the version alone); a row not yet
  registered waits as a version, with whatever values came, until its
  registration gives it the rest;
* ``entity.changed.v1`` ``deleted`` removes the personal data for good and
  keeps a tombstone (id and version only), so a registration or change that
  arrives after the deletion cannot bring the account back.

Applying the same event twice changes nothing, so the projection needs no
idempotency record of its own. To rebuild it from scratch: ``courier-worker
read-model reset``, then ``courier-web replay_registrations`` (one
``user.registration_replayed.v1`` per live account, no welcome email); see
docs/reports-and-documents.md.

Where: the table ``user_directory`` of the worker's database on PostgreSQL;
on SQLite a file of its own beside the worker's (``worker-read.sqlite3``),
for the reason the audit trail has one (``audit_store``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shared_contracts import Envelope, UserRegistered
from shared_contracts.events.audit import EntityChanged
from shared_contracts.events.replays import UserRegistrationReplayed
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    delete,
    func,
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
    "DirectoryUser",
    "UserDirectory",
    "make_user_directory",
    "read_model_database_url",
    "use_user_directory",
    "user_directory",
]

#: The audit name of the web's users (``audited(User, entity="user")``).
USER_ENTITY = "user"
#: ``user.registered.v1`` is the account's creation: version 1 of the user entity.
REGISTERED_VERSION = 1

EMAIL_LENGTH = 320
DISPLAY_NAME_LENGTH = 150

metadata = MetaData()

user_directory_table = Table(
    "user_directory",
    metadata,
    Column("user_id", BigInteger(), primary_key=True, autoincrement=False),
    # Highest version of the user seen so far (its creation is 1).
    Column("version", BigInteger(), nullable=False),
    # Null until user.registered.v1 (or a change carrying them) arrives, and
    # after a deletion (no personal data outlives the account).
    Column("email", String(EMAIL_LENGTH), nullable=True),
    Column("display_name", String(DISPLAY_NAME_LENGTH), nullable=True),
    # Null until user.registered.v1 arrives: a row without it is not a user yet.
    Column("registered_at", DateTime(timezone=True), nullable=True),
    Column("deleted", Boolean(), nullable=False, default=False),
    Index("user_directory_registered_idx", "registered_at"),
)


@dataclass(frozen=True)
class DirectoryUser:
    """One live, registered user as the read model knows it."""

    user_id: int
    email: str
    display_name: str
    registered_at: datetime
    version: int


class UserDirectory:
    """The projection in a SQL table (PostgreSQL or SQLite), through SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._schema_ready = False

    # -- applying events -------------------------------------------------------------

    def apply_registered(self, envelope: Envelope[UserRegistered]) -> bool:
        """Insert the user unless the row exists (newer, or a tombstone). True if inserted."""
        user = envelope.payload
        return self.add_user(
            user.user_id, user.email, user.display_name, registered_at=envelope.occurred_at
        )

    def apply_replayed(self, envelope: Envelope[UserRegistrationReplayed]) -> bool:
        """A replayed registration (a rebuild): as a registration, at its original time."""
        user = envelope.payload
        return self.add_user(
            user.user_id, user.email, user.display_name, registered_at=user.registered_at
        )

    def add_user(
        self, user_id: int, email: str, display_name: str, *, registered_at: datetime
    ) -> bool:
        """Insert the user unless the row exists (newer, or a tombstone); fill in a row that
        a change created before its registration arrived. True if the user was added."""
        values = {
            "user_id": user_id,
            "version": REGISTERED_VERSION,
            "email": email,
            "display_name": display_name,
            "registered_at": registered_at,
            "deleted": False,
        }
        with self._begin() as conn:
            if conn.execute(self._insert_new(values)).first() is not None:
                return True
            # A change arrived first and left a row without its registration:
            # fill it in, keeping its (newer) version and any value the change
            # carried; a tombstone stays one.
            columns = user_directory_table.c
            filled = conn.execute(
                update(user_directory_table)
                .where(
                    columns.user_id == user_id,
                    columns.deleted.is_(False),
                    columns.registered_at.is_(None),
                )
                .values(
                    email=func.coalesce(columns.email, email),
                    display_name=func.coalesce(columns.display_name, display_name),
                    registered_at=registered_at,
                )
            )
            return bool(filled.rowcount)

    def apply_change(self, envelope: Envelope[EntityChanged]) -> bool:
        """Apply a user's change if it is newer than what the row has. True if applied."""
        change = envelope.payload
        if change.entity != USER_ENTITY or not change.entity_id.isdigit():
            return False
        user_id = int(change.entity_id)
        deleted = change.action == "deleted"
        columns = user_directory_table.c
        copied = {} if deleted else _copied(change)
        with self._begin() as conn:
            values: dict[str, Any] = {
                "user_id": user_id,
                "version": change.version,
                "deleted": deleted,
                **copied,
            }
            if conn.execute(self._insert_new(values)).first() is not None:
                return True
            newer = update(user_directory_table).where(
                columns.user_id == user_id,
                columns.version < change.version,
                columns.deleted.is_(False),
            )
            if deleted:
                newer = newer.values(
                    version=change.version,
                    deleted=True,
                    email=None,
                    display_name=None,
                    registered_at=None,
                )
            else:
                newer = newer.values(version=change.version, **copied)
            return bool(conn.execute(newer).rowcount)

    # -- reading ---------------------------------------------------------------------

    def get(self, user_id: int) -> DirectoryUser | None:
        """The user if registered and not deleted (a tombstone or a version alone is None)."""
        columns = user_directory_table.c
        with self._connect() as conn:
            row = (
                conn.execute(
                    select(user_directory_table).where(
                        columns.user_id == user_id,
                        columns.deleted.is_(False),
                        columns.registered_at.is_not(None),
                    )
                )
                .mappings()
                .first()
            )
        return _user(row) if row is not None else None

    def version_of(self, user_id: int) -> tuple[int, bool] | None:
        """The row's version and whether it is a tombstone (tests, operators)."""
        with self._connect() as conn:
            row = conn.execute(
                select(user_directory_table.c.version, user_directory_table.c.deleted).where(
                    user_directory_table.c.user_id == user_id
                )
            ).first()
        return (int(row[0]), bool(row[1])) if row is not None else None

    def signups(self, date_from: date, date_to: date) -> Iterator[DirectoryUser]:
        """Live users registered on UTC days ``date_from`` to ``date_to`` (both included),
        in order of registration, streamed from the database."""
        start = datetime.combine(date_from, time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        columns = user_directory_table.c
        query = (
            select(user_directory_table)
            .where(
                columns.deleted.is_(False),
                columns.registered_at >= start,
                columns.registered_at < end,
            )
            .order_by(columns.registered_at, columns.user_id)
        )
        with self._connect() as conn:
            for row in conn.execution_options(yield_per=500).execute(query).mappings():
                yield _user(row)

    # -- schema ----------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Live users, tombstones and rows still waiting for their registration."""
        columns = user_directory_table.c
        with self._connect() as conn:
            rows = conn.execute(
                select(columns.deleted, columns.registered_at.is_(None), func.count()).group_by(
                    columns.deleted, columns.registered_at.is_(None)
                )
            ).all()
        counts = {"users": 0, "deleted": 0, "awaiting_registration": 0}
        for deleted, unregistered, count in rows:
            key = "deleted" if deleted else "awaiting_registration" if unregistered else "users"
            counts[key] += int(count)
        return counts

    def create_schema(self) -> None:
        """Create the table if missing; safe to call from several processes at once."""
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (IntegrityError, OperationalError, ProgrammingError):
            if not inspect(self.engine).has_table(user_directory_table.name):
                raise
        self._schema_ready = True

    def reset(self) -> None:
        """Empty the projection (``courier-worker read-model reset``: a rebuild starts here)."""
        with self._begin() as conn:
            conn.execute(delete(user_directory_table))

    def _insert_new(self, values: dict[str, Any]) -> Any:
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        return (
            insert(user_directory_table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["user_id"])
            .returning(user_directory_table.c.user_id)
        )

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        self._ensure_schema()
        with self.engine.begin() as conn:
            yield conn

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


#: The columns a user's change may fill in (``audited(..., shared=...)`` on the web
#: side), with the most each holds.
_COPIED_COLUMNS = {"email": EMAIL_LENGTH, "display_name": DISPLAY_NAME_LENGTH}


def _copied(change: EntityChanged) -> dict[str, str]:
    """The email and display name a change carries, as far as their columns can hold them."""
    return {
        name: value
        for name, limit in _COPIED_COLUMNS.items()
        if isinstance(value := change.values.get(name), str) and len(value) <= limit
    }


def _user(row: Any) -> DirectoryUser:
    registered_at: datetime = row["registered_at"]
    if registered_at.tzinfo is None:  # SQLite keeps no offset; everything stored is UTC
        registered_at = registered_at.replace(tzinfo=UTC)
    return DirectoryUser(
        user_id=int(row["user_id"]),
        email=row["email"],
        display_name=row["display_name"] or "",
        registered_at=registered_at,
        version=int(row["version"]),
    )


def read_model_database_url(database_url: str) -> str:
    """The read model's database: the worker's own, or on SQLite a file beside it."""
    return sidecar_database_url(database_url, "read")


def make_user_directory(settings: Settings) -> UserDirectory:
    """The projection on the settings' database; its table is created on first use."""
    engine = make_engine(
        read_model_database_url(settings.database_url),
        synchronous_commit=None,  # reports read it right after: keep every commit
        connect_timeout=settings.WORKER_DB_CONNECT_TIMEOUT,
    )
    return UserDirectory(engine)


_directories: PerProcess[UserDirectory] = PerProcess(lambda: make_user_directory(get_settings()))


def user_directory() -> UserDirectory:
    """This process's projection, built on first use (per process: no engine survives a fork)."""
    return _directories.get()


def use_user_directory(directory: UserDirectory) -> AbstractContextManager[UserDirectory]:
    """Use ``directory`` in this process inside the block (tests); the next use builds afresh."""
    return _directories.use(directory)
