"""Prometheus metrics of the worker, correct under Celery's prefork pool.

Tasks run in pool child processes while the HTTP endpoint lives in the main
process, so the metrics use ``prometheus_client``'s multiprocess mode: every
process writes its samples to memory-mapped files in ``WORKER_METRICS_DIR``
and the endpoint sums them (``MultiProcessCollector``). The ``MetricsServer``
worker bootstep prepares that folder (emptied at start: files of a previous
run would be counted again) *before* the pool forks its children, then serves
``/metrics`` on ``WORKER_METRICS_ADDRESS:WORKER_METRICS_PORT``. With
``WORKER_METRICS_PORT=0`` nothing is served and the metrics stay in memory.

The metric objects are built lazily (``metrics()``), after that set-up, in
whichever process first records something.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from celery import bootsteps
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server, values
from prometheus_client.multiprocess import MultiProcessCollector

from courier_worker.handlers import HANDLERS
from courier_worker.settings import get_settings

log = structlog.get_logger(__name__)

#: Handling-time buckets (seconds): a no-op is sub-millisecond, an SMTP send tens of ms.
HANDLING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
#: The ``outcome`` label values of ``courier_worker_tasks_total``.
OUTCOMES = ("handled", "duplicate", "retried", "dead_lettered")
#: Every ``reason`` the worker dead-letters with ("rejected": a publish failed and the
#: broker dead-lettered the message instead).
DEAD_LETTER_REASONS = (
    "undecodable",
    "unknown-event-type",
    "schema-violation",
    "unsupported-schema-version",
    "too-large",
    "handler-failed",
    "retries-exhausted",
    "rejected",
)
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    tasks: Counter
    handling_seconds: Histogram
    retries: Counter
    dead_letters: Counter
    database_unavailable_retries: Counter

    # Recording is best effort: a metrics file that cannot be written must not
    # turn a handled event into a failed (rejected) one.

    def outcome(self, event_type: str, outcome: str, seconds: float) -> None:
        """One delivery of ``event_type`` ran its task and ended in ``outcome``."""
        label = outcome.replace("-", "_")
        with _best_effort():
            self.tasks.labels(event_type=event_type, outcome=label).inc()
            self.handling_seconds.labels(event_type=event_type).observe(seconds)

    def retried(self, event_type: str) -> None:
        with _best_effort():
            self.retries.labels(event_type=event_type).inc()

    def database_unavailable(self, event_type: str) -> None:
        """A delivery failed because a database was away; it is retried, whatever its count."""
        with _best_effort():
            self.database_unavailable_retries.labels(event_type=event_type).inc()

    def dead_lettered(self, reason: str) -> None:
        # No event_type label: poison messages carry arbitrary task names.
        with _best_effort():
            self.dead_letters.labels(reason=reason).inc()

    def zero(self, event_types: Iterable[str], reasons: Iterable[str]) -> None:
        """Create the known series at 0, so that rates and alerts work before the first event."""
        for event_type in event_types:
            for outcome in OUTCOMES:
                self.tasks.labels(event_type=event_type, outcome=outcome)
            self.handling_seconds.labels(event_type=event_type)
            self.retries.labels(event_type=event_type)
            self.database_unavailable_retries.labels(event_type=event_type)
        for reason in reasons:
            self.dead_letters.labels(reason=reason)


@contextmanager
def _best_effort() -> Iterator[None]:
    try:
        yield
    except Exception:
        log.warning("metrics.record_failed", exc_info=True)


def _build() -> Metrics:
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        tasks=Counter(
            "courier_worker_tasks",
            "Deliveries run by the worker's tasks, by event type and outcome.",
            ["event_type", "outcome"],
            registry=registry,
        ),
        handling_seconds=Histogram(
            "courier_worker_handling_seconds",
            "Time a task spent on one delivery (validation, idempotency, handler).",
            ["event_type"],
            buckets=HANDLING_BUCKETS,
            registry=registry,
        ),
        retries=Counter(
            "courier_worker_retries",
            "Retries scheduled through the delay queues after a transient failure.",
            ["event_type"],
            registry=registry,
        ),
        dead_letters=Counter(
            "courier_worker_dead_letters",
            "Messages the worker published to a dead-letter queue, by reason.",
            ["reason"],
            registry=registry,
        ),
        database_unavailable_retries=Counter(
            "courier_worker_database_unavailable_retries",
            "Retries scheduled because a database was away (restart, failover); these never "
            "exhaust the retry budget.",
            ["event_type"],
            registry=registry,
        ),
    )


_lock = threading.Lock()
_metrics: Metrics | None = None


def metrics() -> Metrics:
    """This process's metrics (in multiprocess mode, they all write to the shared folder)."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _build()
    return _metrics


def reset() -> None:
    """Forget the metric objects (tests; and after switching to multiprocess mode)."""
    global _metrics
    with _lock:
        _metrics = None


def enable_multiprocess(directory: Path) -> None:
    """Clear ``directory`` of metric files; this process and its future children write there.

    Must run in the worker's main process before the pool forks.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # only prometheus_client's files, nothing else
        stale.unlink(missing_ok=True)
    os.environ[_MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    reset()


def collector_registry() -> CollectorRegistry:
    """A registry that sums the samples of every process (multiprocess mode)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class MetricsServer(bootsteps.StartStopStep):
    """Worker bootstep: multiprocess metrics and their ``/metrics`` endpoint."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        settings = get_settings()
        self.port = settings.WORKER_METRICS_PORT
        self.address = settings.WORKER_METRICS_ADDRESS
        self.server: Any = None
        if self.port:
            # Here, not in start(): steps are built before the Pool step forks.
            enable_multiprocess(settings.WORKER_METRICS_DIR)

    def start(self, worker: Any) -> None:
        if not self.port:
            return
        try:
            self.server, _thread = start_http_server(
                self.port, addr=self.address, registry=collector_registry()
            )
        except OSError as exc:
            # Handling events matters more than exposing numbers about it: keep
            # going (the scrape target is down, which Prometheus reports as up=0).
            log.error("metrics.unavailable", address=self.address, port=self.port, error=str(exc))
            return
        metrics().zero(HANDLERS, DEAD_LETTER_REASONS)
        log.info("metrics.serving", address=self.address, port=self.port)

    def stop(self, worker: Any) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
