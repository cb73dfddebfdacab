"""A send rate for the whole deployment, kept in the worker's database.

``NEWSLETTER_RATE_LIMIT`` is what the operator allows in total, however many
worker containers and pool processes send: a limit per process would
multiply by their number. So the pace lives where every worker already
goes, its database, as one row holding the next free send slot (epoch
seconds). Taking a slot is one statement that moves the row on by one
interval and returns the slot it took::

    UPDATE send_pace SET next_at = GREATEST(next_at, now) + interval
    WHERE name = :name RETURNING next_at - interval

The row lock serialises concurrent takers (PostgreSQL across containers; on
SQLite the file's write lock across ``make run``'s processes), each taker
gets its own slot, ``interval`` apart, and then sleeps until it. An idle
pace does not save slots up (``GREATEST(next_at, now)``), so there is no
burst after a pause. A slot taken by a worker that dies before sending is
simply lost (the rate errs low). A reserved slot is an instant (epoch
seconds, the database's clock on PostgreSQL) that the taker sleeps until by
its own clock: ``reserve`` is what ``make run`` uses on SQLite (one machine,
one clock).

On PostgreSQL the newsletter handler goes one step further (``Turn``): it
holds the row lock from its wait until its message is sent and only then
moves ``next_at`` on from the real send time, so that a sender that woke
up late (a loaded machine) delays the next sends instead of bunching with
them: the spacing holds where the mail server measures it. The wait is
computed from the database's clock alone, so the workers' clocks do not
matter. The senders queue on the row, which suits a rate limit: at most one
send is ever due.

No Redis is added to the worker for this: a send costs one short locked
read and UPDATE, which is nothing next to an SMTP transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from courier_worker.newsletter_store import NewsletterStore, send_pace

__all__ = ["NEWSLETTER_PACE", "SendPace", "Slot", "Turn"]

#: The pace every newsletter email takes its slot from.
NEWSLETTER_PACE = "newsletter"

_TAKE_POSTGRES = text(
    "UPDATE send_pace"
    " SET next_at = GREATEST(next_at, EXTRACT(EPOCH FROM clock_timestamp())) + :interval"
    " WHERE name = :name"
    " RETURNING next_at - :interval"
)
_LOCK_POSTGRES = text(
    "SELECT next_at, EXTRACT(EPOCH FROM clock_timestamp()) FROM send_pace"
    " WHERE name = :name FOR UPDATE"
)
_RELEASE_POSTGRES = text(
    "UPDATE send_pace"
    " SET next_at = GREATEST(next_at, EXTRACT(EPOCH FROM clock_timestamp()) + :interval)"
    " WHERE name = :name"
)
_TAKE_SQLITE = text(
    "UPDATE send_pace SET next_at = MAX(next_at, :now) + :interval"
    " WHERE name = :name RETURNING next_at - :interval"
)


class Slot:
    """A reserved send slot: ``wait`` sleeps until it is due (at once if it is)."""

    def __init__(
        self, due: float, sleep: Callable[[float], None], clock: Callable[[], float]
    ) -> None:
        #: Epoch seconds.
        self.due = due
        self._sleep = sleep
        self._clock = clock

    def wait(self) -> None:
        delay = self.due - self._clock()
        if delay > 0:
            self._sleep(delay)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Sleep until due; the send happens in the block."""
        self.wait()
        yield


class Turn:
    """A sender's turn on PostgreSQL: the pace's row lock, from the wait to after the send.

    ``turn()`` locks the row (``SELECT ... FOR UPDATE``: the others queue),
    sleeps until ``next_at``, runs the block (the send), then moves
    ``next_at`` to *now* (after the send) plus one interval and commits,
    which hands the row to the next sender. Each send is so at least one
    interval after the previous one really happened, however late a
    sender woke up or slow its round trips were: a late send delays the
    ones after it instead of bunching with them.
    """

    def __init__(self, pace: SendPace) -> None:
        self._pace = pace

    @contextmanager
    def turn(self) -> Iterator[None]:
        pace = self._pace
        params = {"name": pace.name, "interval": pace.interval}
        with pace.store.engine.connect() as conn, conn.begin():
            next_at, now = conn.execute(_LOCK_POSTGRES, params).one()
            if float(next_at) > float(now):
                pace._sleep(float(next_at) - float(now))
            try:
                yield
            finally:
                conn.execute(_RELEASE_POSTGRES, params)


class SendPace:
    """At most ``per_second`` slots per second for everyone taking them from ``name``."""

    def __init__(
        self,
        store: NewsletterStore,
        name: str,
        *,
        per_second: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if per_second <= 0:
            raise ValueError("a pace needs a positive rate")
        self.store = store
        self.name = name
        self.interval = 1.0 / per_second
        self._sleep = sleep
        self._clock = clock
        self._row_ready = False

    def take(self) -> float:
        """Take the next free slot; returns how many seconds from now it is (0 if due)."""
        return max(0.0, self._take_slot() - self._clock())

    def reserve(self) -> Slot:
        """Take a slot now, to wait for later (``Slot.wait``): the database is written
        before the caller opens a transaction of its own (on SQLite, one writer)."""
        return Slot(self._take_slot(), self._sleep, self._clock)

    def ticket(self) -> Slot | Turn:
        """What a sender waits on before its send (``.turn()``, a context manager).

        PostgreSQL: a ``Turn`` (the row lock held across the send: spacing
        measured from the sends themselves). SQLite (``make run``): a slot
        reserved now, since a writer holding the file's lock while another
        transaction of the same process writes would wait for itself.
        """
        self._ensure_row()
        if self.store.engine.dialect.name == "postgresql":
            return Turn(self)
        return self.reserve()

    def wait(self) -> None:
        """Take a slot and sleep until it."""
        self.reserve().wait()

    def _take_slot(self) -> float:
        """The slot taken, in epoch seconds (the database's clock on PostgreSQL)."""
        engine = self.store.engine
        self._ensure_row()
        postgres = engine.dialect.name == "postgresql"
        params: dict[str, Any] = {"name": self.name, "interval": self.interval}
        if not postgres:
            params["now"] = self._clock()
        with engine.begin() as conn:
            row = conn.execute(_TAKE_POSTGRES if postgres else _TAKE_SQLITE, params).one()
        return float(row[0])

    def _ensure_row(self) -> None:
        if self._row_ready:
            return
        self.store.create_schema()
        with self.store.engine.begin() as conn:
            conn.execute(
                self.store.insert(send_pace)
                .values(name=self.name, next_at=0.0)
                .on_conflict_do_nothing(index_elements=["name"])
            )
        self._row_ready = True
