"""The queue exporter's gauges."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from courier_worker.queue_exporter.state import QueueExporter


class QueueCollector(Collector):
    """The exporter's gauges, computed at scrape time (the ages grow between two rounds)."""

    def __init__(self, exporter: QueueExporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterator[GaugeMetricFamily]:
        broker_up, counts, ages = self.exporter.snapshot()
        kinds = {queue.name: queue.kind for queue in self.exporter.queues}
        yield GaugeMetricFamily(
            "courier_queue_exporter_broker_up",
            "1 while the broker answers the queue exporter, 0 while it does not.",
            value=int(broker_up),
        )
        ready = GaugeMetricFamily(
            "courier_queue_messages_ready",
            "Messages ready for delivery in each of the worker's queues.",
            labels=["queue", "kind"],
        )
        consumers = GaugeMetricFamily(
            "courier_queue_consumers",
            "Consumers attached to each of the worker's queues.",
            labels=["queue", "kind"],
        )
        for name, (ready_count, consumer_count) in sorted(counts.items()):
            ready.add_metric([name, kinds[name]], ready_count)
            consumers.add_metric([name, kinds[name]], consumer_count)
        yield ready
        yield consumers
        age = GaugeMetricFamily(
            "courier_queue_oldest_waiting_age_seconds",
            "Age of the oldest message of each work queue that no worker has taken in yet "
            "(ready, or pushed to a hung worker): never more than the truth, at most the "
            "resolution less (measured with marker messages).",
            labels=["queue", "kind"],
        )
        for name, seconds in sorted(ages.items()):
            age.add_metric([name, kinds[name]], seconds)
        yield age
        yield GaugeMetricFamily(
            "courier_queue_age_resolution_seconds",
            "How much older than reported the oldest waiting message may be (the marker interval).",
            value=self.exporter.interval,
        )


__all__ = ["QueueCollector"]
