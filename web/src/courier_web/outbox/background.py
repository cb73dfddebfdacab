"""The in-process publisher: a background thread that publishes rows right after commit.

The request only puts a row id on a bounded queue; the thread owns its pika
connection. While the broker is away a circuit breaker skips connecting for a
backoff period, leaving rows to the relay, so requests are never slowed.
Fork-safe: a forked child (a gunicorn worker) starts its own thread and
connection on first use.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
from collections.abc import Callable

import structlog
from django.conf import settings
from django.db import close_old_connections

from courier_web.outbox.backoff import Backoff, CircuitBreaker
from courier_web.outbox.broker import BrokerOptions, redact_url
from courier_web.outbox.publisher import PikaPublisher, Publisher
from courier_web.outbox.publishing import outbox_publish_ids

log = structlog.get_logger(__name__)

_STOP = -1
_MAX_BATCH = 100


class ThreadedDispatcher:
    """Publishes submitted row ids from one daemon thread per process."""

    def __init__(
        self,
        publisher_factory: Callable[[], Publisher],
        *,
        queue_size: int,
        breaker: CircuitBreaker,
        idle_interval: float = 5.0,
        describe: str = "",
    ) -> None:
        self._publisher_factory = publisher_factory
        self._queue_size = queue_size
        self._breaker = breaker
        self._idle_interval = idle_interval
        self._describe = describe
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue[int] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._overflowed = False
        self._broker_down = False

    @classmethod
    def from_settings(cls) -> ThreadedDispatcher:
        options = BrokerOptions.from_settings(connection_name="courier-web publisher")
        backoff = Backoff(
            initial=settings.OUTBOX_BACKOFF_INITIAL, maximum=settings.OUTBOX_BACKOFF_MAX
        )
        return cls(
            lambda: PikaPublisher(options),
            queue_size=settings.OUTBOX_QUEUE_SIZE,
            breaker=CircuitBreaker(backoff),
            idle_interval=max(1.0, settings.OUTBOX_HEARTBEAT / 3),
            describe=redact_url(options.url),
        )

    def submit(self, row_id: int) -> None:
        try:
            self._ensure_started()
            self._queue.put_nowait(row_id)
            self._overflowed = False
        except queue.Full:
            if not self._overflowed:  # once per overflow, not per row
                self._overflowed = True
                log.warning("outbox.dispatch_queue_full", queue_size=self._queue_size)
        except Exception:  # never into the request
            log.exception("outbox.dispatch_failed", row_id=row_id)

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to finish what it holds and exit (at interpreter exit)."""
        thread = self._thread
        if thread is None or not thread.is_alive() or self._pid != os.getpid():
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)

    def _ensure_started(self) -> None:
        pid = os.getpid()
        if self._pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == pid and self._thread is not None and self._thread.is_alive():
                return
            if self._pid != pid:
                # A forked child: the parent's queue and thread are not ours.
                self._queue = queue.Queue(maxsize=self._queue_size)
                atexit.register(self.stop)
            self._pid = pid
            self._thread = threading.Thread(
                target=self._run, name="courier-outbox-publisher", daemon=True
            )
            self._thread.start()

    def _take_batch(self) -> list[int] | None:
        """Block for the next id (or an idle tick → []); None means stop."""
        try:
            first = self._queue.get(timeout=self._idle_interval)
        except queue.Empty:
            return []
        ids = [first]
        while len(ids) < _MAX_BATCH:
            try:
                ids.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if _STOP in ids:
            return None
        return ids

    def _run(self) -> None:
        publisher = self._publisher_factory()
        try:
            while (ids := self._take_batch()) is not None:
                if not ids:
                    publisher.idle()
                    continue
                if not self._breaker.allow():
                    continue  # the relay will publish them once the broker is back
                try:
                    close_old_connections()
                    report = outbox_publish_ids(ids=ids, publisher=publisher)
                except Exception:
                    log.exception("outbox.dispatch_batch_failed", rows=len(ids))
                    continue
                finally:
                    close_old_connections()
                if report.error is not None:
                    delay = self._breaker.record_failure()
                    if not self._broker_down:  # log once per state change
                        self._broker_down = True
                        log.warning(
                            "outbox.publisher_paused",
                            broker=self._describe,
                            error=report.error,
                            retry_in_s=round(delay, 2),
                            note="rows stay pending; relay_outbox publishes them",
                        )
                else:
                    self._breaker.record_success()
                    if self._broker_down:
                        self._broker_down = False
                        log.info("outbox.publisher_resumed", broker=self._describe)
        finally:
            publisher.close()
