"""Outbox gauges computed at scrape time from the database (cheap, indexed queries)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from courier_web.outbox.relay_state import RelayHealth
from courier_web.outbox.selectors import outbox_stats

log = structlog.get_logger(__name__)


class OutboxCollector(Collector):
    """Pending rows, the oldest pending row's age and failed rows, read on each scrape.

    The values are the database's, not a process's, so they are right however
    many processes serve ``/metrics``. A database error drops the gauges from
    that scrape (the HTTP metrics still answer) and is logged.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = outbox_stats()
        except Exception as exc:
            log.warning("metrics.outbox_unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        yield GaugeMetricFamily(
            "courier_web_outbox_pending_rows",
            "Outbox rows waiting to be published.",
            value=stats.pending,
        )
        yield GaugeMetricFamily(
            "courier_web_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox row (0 when none is pending).",
            value=stats.oldest_pending_age_s,
        )
        yield GaugeMetricFamily(
            "courier_web_outbox_failed_rows",
            "Outbox rows that failed for good (unroutable); replay them with "
            "`courier-web outbox replay`.",
            value=stats.failed,
        )


class RelayCollector(Collector):
    """The relay process's view of its dependencies, read on each scrape of its own port.

    ``courier_web_outbox_relay_database_up`` is 0 from the first failed
    statement until one answers again (and before the first one answered):
    alert on it, and on pending rows growing, rather than on the relay's log.
    """

    def __init__(self, health: Callable[[], RelayHealth]) -> None:
        self.health = health

    def collect(self) -> Iterator[Metric]:
        health = self.health()
        yield GaugeMetricFamily(
            "courier_web_outbox_relay_database_up",
            "1 while the relay's database answers, 0 while it is away (the relay reconnects).",
            value=int(health.database_up),
        )
        yield GaugeMetricFamily(
            "courier_web_outbox_relay_broker_up",
            "1 while the broker takes the relay's messages, 0 while it is away.",
            value=int(health.broker_up),
        )
        yield CounterMetricFamily(
            "courier_web_outbox_relay_database_errors",
            "Relay steps cut short because the database was away (each then reconnects).",
            value=health.database_errors,
        )
