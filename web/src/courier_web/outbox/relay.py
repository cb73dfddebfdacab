"""The relay loop: publish whatever the in-process publisher did not, forever.

It claims batches of pending rows older than a grace period, publishes them
with confirms, backs off (exponentially, with jitter) while the broker or the
database is away, and logs once per state change rather than once per row.
A database error anywhere in a step (a claim, the mark-sent after a confirm,
a prune) drops the connections and backs off (``relay_database.py``); the
rows of a batch cut short stay pending and are published again (the worker's
idempotency absorbs the repeat). Once the database answers again the relay
sweeps from the top and LISTENs anew.

Each turn of the loop is one step: check the broker, then either publish the
rows NOTIFY announced (claimed by id, between sweeps) or sweep the pending
rows (``_sweep``). A sweep's next claim continues from where the previous one
ended only after a full, clean batch (a backlog); anything else starts again
from the top of the pending rows, so rows a resumed claim passed over are
found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import structlog

from courier_web.health.database import DATABASE_ERRORS, DatabaseFailure
from courier_web.health.database import classify_database_error as database_failure
from courier_web.outbox.backoff import Backoff
from courier_web.outbox.operations import outbox_prune
from courier_web.outbox.publisher import Publisher
from courier_web.outbox.publishing import BatchReport, outbox_publish_batch, outbox_publish_ids
from courier_web.outbox.relay_database import DatabaseLink, describe_database
from courier_web.outbox.relay_state import Drain, RelayConfig, RelayHealth, RelayStats, Step
from courier_web.outbox.wakeup import SleepWakeup, Wakeup

__all__ = ["START_BROKER_HINT", "Relay", "RelayConfig", "RelayStats"]

log = structlog.get_logger(__name__)

START_BROKER_HINT = (
    "start RabbitMQ (`rabbitmq-server -detached`, `make up`, or "
    "`docker run -d -p 5672:5672 rabbitmq:3.13`) or point RABBITMQ_URL at one; "
    "pending rows are kept and published once it answers"
)
_PROGRESS_EVERY_S = 5.0


class Relay:
    """Drains the outbox through one publisher until stopped."""

    def __init__(
        self,
        publisher: Publisher,
        config: RelayConfig,
        *,
        backoff: Backoff,
        broker: str,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        wakeup: Wakeup | None = None,
        database: DatabaseLink | None = None,
    ) -> None:
        self.publisher = publisher
        self.config = config
        self.backoff = backoff
        self.broker = broker
        self.stop = stop or threading.Event()
        #: What an idle relay waits on: the poll interval, or NOTIFY (``wakeup.py``).
        self.wakeup = wakeup or SleepWakeup(self.stop)
        self.clock = clock
        #: Whether the database answers; backs off between reconnections.
        self.database = database or DatabaseLink(
            Backoff(initial=backoff.initial, maximum=backoff.maximum), database=describe_database()
        )
        self.stats = RelayStats()
        self._broker_up: bool | None = None  # unknown until the first attempt
        self._next_prune = clock()  # prune once right at start
        self._reconnect_delay = 0.0

    def health(self) -> RelayHealth:
        """What the relay knows of its dependencies now (its metrics endpoint reads it)."""
        return RelayHealth(
            broker_up=self._broker_up is True,
            database_up=self.database.up is True,
            database_errors=self.stats.database_errors,
        )

    def run(self, *, once: bool = False) -> RelayStats:
        """Loop until ``stop`` is set; with ``once``, until nothing is left or the broker fails."""
        self._log_started(once)
        drain = Drain(next_sweep=self.clock(), last_progress=self.clock())
        try:
            while not self.stop.is_set():
                try:
                    self._maybe_prune()
                    step = self._step(drain, once=once)
                except DATABASE_ERRORS as exc:
                    step = self._database_failed(exc, drain, once=once)
                if step is Step.STOP:
                    break
                if step is Step.BACK_OFF:
                    self.stop.wait(self.backoff.next_delay())
                elif step is Step.RECONNECT:
                    self.stop.wait(self._reconnect_delay)
        finally:
            self.wakeup.close()
            self.publisher.close()
            log.info("outbox.relay_stopped", **vars(self.stats))
        return self.stats

    def _step(self, drain: Drain, *, once: bool) -> Step:
        # Cheap when connected; tells a dead broker apart even with no rows.
        if (error := self.publisher.connect()) is not None:
            self._broker_failed(error)
            return Step.STOP if once else Step.BACK_OFF
        if drain.notified and self.clock() < drain.next_sweep:
            return self._publish_notified(drain)
        return self._sweep(drain, once=once)

    def _database_failed(self, exc: Exception, drain: Drain, *, once: bool) -> Step:
        """The database went away mid-step: drop every connection, start over from the top."""
        self._reconnect_delay = self.database.failed(exc)  # raises unless it is away for now
        self.stats.database_errors += 1
        self.wakeup.close()
        # Announced ids may have been claimed meanwhile; the next sweep finds whatever is pending.
        drain.notified, drain.position, drain.next_sweep = [], None, self.clock()
        return Step.STOP if once else Step.RECONNECT

    def _publish_notified(self, drain: Drain) -> Step:
        """Claim the next batch of announced rows by id; wait for more until the sweep is due."""
        size = self.config.batch_size
        ids, drain.notified = drain.notified[:size], drain.notified[size:]
        report = outbox_publish_ids(ids=ids, publisher=self.publisher)
        self.database.succeeded()
        if self._account(report):
            drain.notified = []  # still pending: the next sweep takes them
            return Step.BACK_OFF
        if not drain.notified:
            drain.notified = self._idle(max(0.0, drain.next_sweep - self.clock()))
        return Step.GO_ON

    def _sweep(self, drain: Drain, *, once: bool) -> Step:
        """Claim the oldest pending rows; go on through a backlog, else idle until the next."""
        resumed = drain.position is not None
        report = outbox_publish_batch(
            publisher=self.publisher,
            limit=self.config.batch_size,
            min_age=timedelta(seconds=self.config.grace),
            after=drain.position,
        )
        self.database.succeeded()
        full = report.claimed >= self.config.batch_size and report.error is None
        # Only a full, clean batch continues from where it ended; anything
        # else starts the next claim from the top of the pending rows.
        drain.position = report.last if full else None
        if self._account(report):
            return Step.STOP if once else Step.BACK_OFF
        if resumed and not full:
            return Step.GO_ON  # once more from the top: rows a resumed claim passed over
        if full:
            self._backlog_goes_on(drain, report)  # keep going without sleeping
            return Step.GO_ON
        self._backlog_drained(drain, report)
        if once:
            return Step.STOP
        drain.next_sweep = self.clock() + self.config.poll_interval
        drain.notified = self._idle(self.config.poll_interval)
        return Step.GO_ON

    def _backlog_goes_on(self, drain: Drain, report: BatchReport) -> None:
        """A full batch: count it, and say how the backlog goes every few seconds."""
        if drain.backlog_started is None:
            drain.backlog_started, drain.backlog_sent = self.clock(), 0
        drain.backlog_sent += report.sent
        if self.clock() - drain.last_progress >= _PROGRESS_EVERY_S:
            drain.last_progress = self.clock()
            log.info("outbox.relay_progress", sent=drain.backlog_sent)

    def _backlog_drained(self, drain: Drain, report: BatchReport) -> None:
        """A short batch after a backlog: say what it came to."""
        if drain.backlog_started is None:
            return
        log.info(
            "outbox.backlog_drained",
            sent=drain.backlog_sent + report.sent,
            seconds=round(self.clock() - drain.backlog_started, 2),
        )
        drain.backlog_started = None

    def _account(self, report: BatchReport) -> bool:
        """Count a batch's outcome; True when the broker did not take it (then back off)."""
        self.stats.sent += report.sent
        self.stats.failed += report.failed
        if report.error is not None:
            self._broker_failed(report.error)
            return True
        self._broker_back()
        return False

    def _idle(self, timeout: float) -> list[int]:
        """Wait for notified rows, at most ``timeout`` seconds (until the next sweep)."""
        self.publisher.idle()
        return self.wakeup.wait(timeout)

    def _maybe_prune(self) -> None:
        """Every ``prune_interval``, delete a bounded number of old sent rows."""
        retention = self.config.retention
        if retention is None or self.clock() < self._next_prune:
            return
        self._next_prune = self.clock() + self.config.prune_interval
        try:
            outbox_prune(
                older_than=retention,
                batch_size=self.config.prune_batch_size,
                max_batches=self.config.prune_batches,
            )
        except Exception as exc:  # a failed prune must not stop publishing
            if (
                isinstance(exc, DATABASE_ERRORS)
                and database_failure(exc) is not DatabaseFailure.OTHER
            ):
                raise  # the database is away or refuses us: the loop deals with it
            log.exception("outbox.prune_failed")

    def _log_started(self, once: bool) -> None:
        retention = self.config.retention
        log.info(
            "outbox.relay_started",
            broker=self.broker,
            database=self.database.database,
            wakeup=self.wakeup.mode,
            once=once,
            batch_size=self.config.batch_size,
            poll_interval=self.config.poll_interval,
            grace=self.config.grace,
            retention_h=retention.total_seconds() / 3600 if retention else None,
        )

    def _broker_failed(self, error: str) -> None:
        """Count a broker failure; log it once per state change."""
        self.stats.broker_errors += 1
        if self._broker_up is None:
            log.error(
                "outbox.broker_unreachable",
                broker=self.broker,
                error=error,
                hint=START_BROKER_HINT,
            )
        elif self._broker_up:
            log.warning("outbox.broker_lost", broker=self.broker, error=error)
        self._broker_up = False

    def _broker_back(self) -> None:
        if self._broker_up is False:
            log.info("outbox.broker_back", broker=self.broker)
        self._broker_up = True
        self.backoff.reset()
