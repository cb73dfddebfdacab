"""What the relay waits on between two claims: the clock, or PostgreSQL's NOTIFY.

``SleepWakeup`` sleeps until the next poll. ``NotifyWakeup`` LISTENs on
``courier_outbox``, where the outbox's INSERT trigger (migration 0003)
announces each new row's id at commit, and returns those ids as soon as one
arrives, or nothing once the timeout is up: the relay then polls, which stays
the safety net. If its connection fails, it says so once, sleeps instead, and
listens again on the next wait.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "courier_outbox"
#: How often a wait looks at the stop event.
_STOP_CHECK_S = 0.25


class Wakeup(Protocol):
    def wait(self, timeout: float) -> list[int]:
        """Ids of rows committed meanwhile, as soon as there are some; else [] after ``timeout``
        (or at once on stop)."""
        ...

    def close(self) -> None: ...


class SleepWakeup:
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def wait(self, timeout: float) -> list[int]:
        self.stop.wait(timeout)
        return []

    def close(self) -> None:
        return None


class NotifyWakeup:
    """LISTEN on its own autocommit connection (``connect`` opens one, psycopg 3)."""

    def __init__(self, connect: Any, stop: threading.Event) -> None:
        self._connect = connect
        self.stop = stop
        self._conn: Any = None
        self._failing = False

    def wait(self, timeout: float) -> list[int]:
        ids: list[int] = []
        try:
            conn = self._listening()
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
        except Exception as exc:  # the database went away: sleep, listen again later
            self.close()
            if not self._failing:
                log.warning("outbox.listen_failed", channel=NOTIFY_CHANNEL, error=str(exc))
                self._failing = True
            self.stop.wait(timeout)
            return []
        if self._failing:
            log.info("outbox.listen_restored", channel=NOTIFY_CHANNEL)
            self._failing = False
        return ids

    def _listening(self) -> Any:
        if self._conn is None or self._conn.closed:
            conn = self._connect()
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self._conn = conn
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                log.debug("outbox.listen_close_failed", exc_info=True)


def _row_ids(payload: str) -> list[int]:
    """The row id a notification carries (anything else on the channel is ignored)."""
    return [int(payload)] if payload.isdigit() else []
