"""What the relay waits on between two claims: the clock, or PostgreSQL's NOTIFY.

``SleepWakeup`` sleeps until the next poll. ``NotifyWakeup`` LISTENs on
``courier_outbox``, where the outbox's INSERT trigger (migration 0003)
announces each new row's id at commit, and returns those ids as soon as one
arrives, or nothing once the timeout is up: the relay then polls, which stays
the safety net.

Its first LISTEN is checked: it sends itself a notification through the
relay's other connection and waits for it. Through a transaction pooler
(PgBouncer's ``pool_mode = transaction``) LISTEN "succeeds" on whichever
server connection the pooler lent for that one statement, and nothing ever
arrives; the check sees that, says so once (``outbox.listen_unsupported``)
and the relay polls from then on (docs/outbox.md, "Through PgBouncer").

If the listening connection breaks, the next wait returns at once with
nothing, so that the relay's next claim tells whether the whole database is
away (the relay then backs off and closes this wakeup) or only this
connection failed (then LISTEN again, saying so once if that fails).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "courier_outbox"
#: How often a wait looks at the stop event.
_STOP_CHECK_S = 0.25
#: How long the first LISTEN waits for its own test notification.
PROBE_TIMEOUT_S = 3.0
_PROBE_PREFIX = "probe:"
_POOLER_HINT = (
    "LISTEN receives nothing on this connection: DATABASE_URL likely goes through a "
    "transaction pooler (PgBouncer pool_mode=transaction). Polling every "
    "OUTBOX_POLL_INTERVAL instead; set OUTBOX_LISTEN_URL to a direct PostgreSQL URL to "
    "be woken at commit, or DATABASE_TRANSACTION_POOLING=true to skip this check"
)


class Wakeup(Protocol):
    @property
    def mode(self) -> str:
        """``notify`` or ``poll``: how the relay learns of new rows (for its start line)."""
        ...

    def wait(self, timeout: float) -> list[int]:
        """Ids of rows committed meanwhile, as soon as there are some; else [] after ``timeout``
        (or at once on stop)."""
        ...

    def close(self) -> None: ...


class SleepWakeup:
    mode = "poll"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def wait(self, timeout: float) -> list[int]:
        self.stop.wait(timeout)
        return []

    def close(self) -> None:
        return None


class NotifyWakeup:
    """LISTEN on its own autocommit connection (``connect`` opens one, psycopg 3).

    ``probe`` sends a notification on the channel through another connection
    (the relay's own); without it the first LISTEN is trusted unchecked.
    """

    def __init__(
        self,
        connect: Any,
        stop: threading.Event,
        *,
        probe: Callable[[str], None] | None = None,
        probe_timeout: float = PROBE_TIMEOUT_S,
    ) -> None:
        self._connect = connect
        self.stop = stop
        self._probe = probe
        self._probe_timeout = probe_timeout
        self._conn: Any = None
        self._failing = False
        self._listened = False  # an established LISTEN, lost at most once silently
        self._verified = probe is None
        self._unsupported = False
        self._early: list[int] = []  # row ids that arrived while the probe waited

    @property
    def mode(self) -> str:
        return "poll" if self._unsupported else "notify"

    def wait(self, timeout: float) -> list[int]:
        if self._unsupported:
            self.stop.wait(timeout)
            return []
        ids: list[int] = []
        try:
            conn = self._listening()
            if conn is None:  # the probe found that notifications never arrive
                self.stop.wait(timeout)
                return []
            ids, self._early = self._early, []
            deadline = time.monotonic() + timeout
            # In slices, so that a stop (SIGTERM) is seen within one slice.
            while not ids and not self.stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                for notify in conn.notifies(timeout=min(remaining, _STOP_CHECK_S), stop_after=1):
                    ids.extend(_row_ids(notify.payload))
            # Everything queued meanwhile comes along: one claim takes them all.
            for notify in conn.notifies(timeout=0):
                ids.extend(_row_ids(notify.payload))
        except Exception as exc:
            return self._failed(exc, timeout)
        if self._failing:
            log.info("outbox.listen_restored", channel=NOTIFY_CHANNEL)
            self._failing = False
        return ids

    def _failed(self, exc: Exception, timeout: float) -> list[int]:
        lost = self._listened
        self.close()
        if lost:
            # An established connection broke: back to the relay at once, whose
            # next claim tells whether the whole database is away.
            return []
        if not self._failing:
            log.warning("outbox.listen_failed", channel=NOTIFY_CHANNEL, error=str(exc))
            self._failing = True
        self.stop.wait(timeout)  # poll meanwhile; LISTEN again on the next wait
        return []

    def _listening(self) -> Any:
        if self._conn is None or self._conn.closed:
            conn = self._connect()
            try:
                conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                if not self._verified and not self._check(conn):
                    conn.close()
                    return None
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._listened = True
        return self._conn

    def _check(self, conn: Any) -> bool:
        """Send a notification through the other connection; True once it arrives here."""
        assert self._probe is not None
        token = f"{_PROBE_PREFIX}{uuid.uuid4().hex}"
        self._probe(token)
        deadline = time.monotonic() + self._probe_timeout
        while (remaining := deadline - time.monotonic()) > 0 and not self.stop.is_set():
            for notify in conn.notifies(timeout=min(remaining, _STOP_CHECK_S)):
                if notify.payload == token:
                    self._verified = True
                    log.info("outbox.listening", channel=NOTIFY_CHANNEL, checked=True)
                    return True
                self._early.extend(_row_ids(notify.payload))
        if self.stop.is_set():
            return True  # stopping: nothing learned, nothing to report
        self._unsupported = True
        log.warning("outbox.listen_unsupported", channel=NOTIFY_CHANNEL, hint=_POOLER_HINT)
        return False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._listened = False
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                log.debug("outbox.listen_close_failed", exc_info=True)


def _row_ids(payload: str) -> list[int]:
    """The row id a notification carries (anything else on the channel is ignored)."""
    return [int(payload)] if payload.isdigit() else []
