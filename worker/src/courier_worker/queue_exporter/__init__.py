"""``courier-worker queue-exporter``: the worker's queues as Prometheus gauges.

One small process per deployment, apart from the workers so that it keeps
measuring when none runs. Every ``interval`` seconds it asks the broker,
over AMQP with the worker's own user, how many messages each of the worker's
queues holds ready and how many consumers it has (a passive
``queue.declare``: it reads no message), and publishes a marker to each work
queue to measure how long its oldest message has waited (``queue_age.py``). It
serves, on ``/metrics``:

* ``courier_queue_messages_ready{queue, kind}``: work, dead-letter and delay queues;
* ``courier_queue_consumers{queue, kind}``;
* ``courier_queue_oldest_waiting_age_seconds{queue, kind="work"}``: never more than
  the truth, at most ``courier_queue_age_resolution_seconds`` (the interval) less;
* ``courier_queue_exporter_broker_up``: 0 while the broker does not answer
  (the counts are then left out rather than repeated stale; the ages go on
  growing, since the markers are still queued).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import structlog
from prometheus_client import CollectorRegistry, start_http_server

from courier_worker.queue_exporter.amqp import run
from courier_worker.queue_exporter.collector import QueueCollector
from courier_worker.queue_exporter.state import (
    DEFAULT_INTERVAL,
    QueueExporter,
    WatchedQueue,
    watched_queues,
)

log = structlog.get_logger(__name__)

DEFAULT_PORT = 9810


def serve(*, port: int, address: str, interval: float) -> int:
    """Serve the gauges on ``address:port`` and measure until SIGTERM or SIGINT."""
    from courier_worker.celery_app import app
    from courier_worker.logs import configure_logging
    from courier_worker.settings import get_settings

    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)
    exporter = QueueExporter(watched_queues(settings.WORKER_RETRY_DELAYS), interval=interval)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(exporter))
    try:
        server, _thread = start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        print(f"cannot serve metrics on {address}:{port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "queue_exporter.serving",
        address=address,
        port=port,
        interval=interval,
        queues=[queue.name for queue in exporter.queues],
    )
    try:
        run(exporter, app.connection_for_write, stop)
    finally:
        server.shutdown()
        server.server_close()
    log.info("queue_exporter.stopped")
    return 0


__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_PORT",
    "QueueCollector",
    "QueueExporter",
    "WatchedQueue",
    "serve",
    "watched_queues",
]
