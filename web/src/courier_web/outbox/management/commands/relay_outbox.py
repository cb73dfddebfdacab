"""``courier-web relay_outbox``: the long-lived outbox relay (and ``--once`` to drain)."""

from __future__ import annotations

import signal
import threading
from argparse import ArgumentParser
from datetime import timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from courier_web.outbox.backoff import Backoff
from courier_web.outbox.broker import BrokerOptions, redact_url
from courier_web.outbox.dispatch import dispatch_mode
from courier_web.outbox.publisher import PikaPublisher
from courier_web.outbox.relay import START_BROKER_HINT, Relay, RelayConfig
from courier_web.outbox.wakeup import NotifyWakeup


def listen_connection() -> Any:
    """A new autocommit psycopg connection to the default database, for LISTEN only."""
    import psycopg
    from django.db import connections

    params = connections["default"].get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return psycopg.connect(**params, autocommit=True)


class Command(BaseCommand):
    help = "Publish pending outbox rows to RabbitMQ with confirms; runs until SIGTERM/SIGINT."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="drain the pending rows, then exit")
        parser.add_argument("--batch-size", type=int, default=settings.OUTBOX_BATCH_SIZE)
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=settings.OUTBOX_POLL_INTERVAL,
            help="seconds to sleep when idle",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help=(
                "leave rows younger than this (seconds) to the in-process publisher "
                "(default: OUTBOX_RELAY_GRACE with OUTBOX_DISPATCH=thread, else 0)"
            ),
        )

        parser.add_argument(
            "--metrics-port",
            type=int,
            default=settings.OUTBOX_RELAY_METRICS_PORT,
            help="serve this process's Prometheus metrics on this port (0: off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        broker = BrokerOptions.from_settings(connection_name="courier-web relay")
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, request_stop)
            signal.signal(signal.SIGINT, request_stop)
        if options["metrics_port"]:
            from prometheus_client import start_http_server

            from courier_web.metrics.registry import REGISTRY

            start_http_server(options["metrics_port"], registry=REGISTRY)
        mode = dispatch_mode()
        grace = options["grace"]
        if grace is None:  # only an in-process publisher needs a head start
            grace = settings.OUTBOX_RELAY_GRACE if mode == "thread" else 0.0
        wakeup = NotifyWakeup(listen_connection, stop) if mode == "notify" else None
        relay = Relay(
            PikaPublisher(broker),
            RelayConfig(
                batch_size=options["batch_size"],
                poll_interval=options["poll_interval"],
                grace=grace,
                retention=(
                    timedelta(hours=settings.OUTBOX_RETENTION_HOURS)
                    if settings.OUTBOX_RETENTION_HOURS > 0
                    else None
                ),
                prune_interval=settings.OUTBOX_PRUNE_INTERVAL,
            ),
            backoff=Backoff(
                initial=settings.OUTBOX_BACKOFF_INITIAL, maximum=settings.OUTBOX_BACKOFF_MAX
            ),
            broker=redact_url(broker.url),
            stop=stop,
            wakeup=wakeup,
        )
        stats = relay.run(once=options["once"])
        if options["once"] and stats.broker_errors:
            raise CommandError(
                f"the broker at {redact_url(broker.url)} did not take the pending rows; "
                + START_BROKER_HINT
            )
