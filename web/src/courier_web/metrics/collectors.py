"""Outbox gauges computed at scrape time from the database (cheap, indexed queries)."""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

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
