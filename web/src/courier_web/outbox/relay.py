"""The relay loop: publish whatever the in-process publisher did not, forever.

It claims batches of pending rows older than a grace period, publishes them
with confirms, backs off (exponentially, with jitter) while the broker is away,
and logs once per state change rather than once per row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from courier_web.outbox.backoff import Backoff
from courier_web.outbox.claims import Position
from courier_web.outbox.operations import outbox_prune
from courier_web.outbox.publisher import Publisher
from courier_web.outbox.services import BatchReport, outbox_publish_batch, outbox_publish_ids
from courier_web.outbox.wakeup import SleepWakeup, Wakeup

log = structlog.get_logger(__name__)

START_BROKER_HINT = (
    "start RabbitMQ (`rabbitmq-server -detached`, `make up`, or "
    "`docker run -d -p 5672:5672 rabbitmq:3.13`) or point RABBITMQ_URL at one; "
    "pending rows are kept and published once it answers"
)
_PROGRESS_EVERY_S = 5.0


@dataclass
class RelayStats:
    sent: int = 0
    failed: int = 0
    broker_errors: int = 0


@dataclass(frozen=True)
class RelayConfig:
    batch_size: int
    poll_interval: float
    grace: float
    #: Sent rows older than this are deleted; None keeps them forever.
    retention: timedelta | None = None
    #: Seconds between two prunes (each at most ``prune_batches`` batches).
    prune_interval: float = 300.0
    prune_batch_size: int = 1000
    prune_batches: int = 10


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
    ) -> None:
        self.publisher = publisher
        self.config = config
        self.backoff = backoff
        self.broker = broker
        self.stop = stop or threading.Event()
        #: What an idle relay waits on: the poll interval, or NOTIFY (``wakeup.py``).
        self.wakeup = wakeup or SleepWakeup(self.stop)
        self.clock = clock
        self.stats = RelayStats()
        self._broker_up: bool | None = None  # unknown until the first attempt
        self._next_prune = clock()  # prune once right at start

    def run(self, *, once: bool = False) -> RelayStats:
        """Loop until ``stop`` is set; with ``once``, until nothing is left or the broker fails."""
        log.info(
            "outbox.relay_started",
            broker=self.broker,
            once=once,
            batch_size=self.config.batch_size,
            poll_interval=self.config.poll_interval,
            grace=self.config.grace,
            retention_h=(
                self.config.retention.total_seconds() / 3600 if self.config.retention else None
            ),
        )
        position: Position | None = None
        #: Row ids announced by NOTIFY, claimed by id (an index lookup): the full
        #: sweep below walks the pending index, past entries of rows already sent
        #: until vacuum, so it runs once per poll interval, not once per commit.
        notified: list[int] = []
        next_sweep = self.clock()
        backlog_started: float | None = None
        backlog_sent = 0
        last_progress = self.clock()
        try:
            while not self.stop.is_set():
                self._maybe_prune()
                # Cheap when connected; tells a dead broker apart even with no rows.
                if (error := self.publisher.connect()) is not None:
                    self._broker_failed(error)
                    if once:
                        break
                    self.stop.wait(self.backoff.next_delay())
                    continue
                if notified and self.clock() < next_sweep:
                    size = self.config.batch_size
                    ids, notified = notified[:size], notified[size:]
                    if self._account(outbox_publish_ids(ids=ids, publisher=self.publisher)):
                        notified = []  # still pending: the next sweep takes them
                        self.stop.wait(self.backoff.next_delay())
                        continue
                    if not notified:
                        notified = self._idle(max(0.0, next_sweep - self.clock()))
                    continue
                resumed = position is not None
                report = outbox_publish_batch(
                    publisher=self.publisher,
                    limit=self.config.batch_size,
                    min_age=timedelta(seconds=self.config.grace),
                    after=position,
                )
                full = report.claimed >= self.config.batch_size and report.error is None
                # Only a full, clean batch continues from where it ended; anything
                # else starts the next claim from the top of the pending rows.
                position = report.last if full else None
                if self._account(report):
                    if once:
                        break
                    self.stop.wait(self.backoff.next_delay())
                    continue
                if resumed and not full:
                    continue  # once more from the top: rows a resumed claim passed over
                if full:
                    # A backlog: keep going without sleeping, say how it goes.
                    if backlog_started is None:
                        backlog_started, backlog_sent = self.clock(), 0
                    backlog_sent += report.sent
                    if self.clock() - last_progress >= _PROGRESS_EVERY_S:
                        last_progress = self.clock()
                        log.info("outbox.relay_progress", sent=backlog_sent)
                    continue
                if backlog_started is not None:
                    log.info(
                        "outbox.backlog_drained",
                        sent=backlog_sent + report.sent,
                        seconds=round(self.clock() - backlog_started, 2),
                    )
                    backlog_started = None
                if once:
                    break
                next_sweep = self.clock() + self.config.poll_interval
                notified = self._idle(self.config.poll_interval)
        finally:
            self.wakeup.close()
            self.publisher.close()
            log.info("outbox.relay_stopped", **vars(self.stats))
        return self.stats

    def _account(self, report: BatchReport) -> bool:
        """Count a batch's outcome; True when the broker did not take it (then back off)."""
        self.stats.sent += report.sent
        self.stats.failed += report.failed
        if report.error is not None:
            self._broker_failed(report.error)
            return True
        self._broker_back()
        return False

    def _broker_failed(self, error: str) -> None:
        self.stats.broker_errors += 1
        self._broker_lost(error)

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
        except Exception:  # a failed prune must not stop publishing
            log.exception("outbox.prune_failed")

    def _broker_lost(self, error: str) -> None:
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
