"""``courier-web relay_outbox``: the long-lived outbox relay (and ``--once`` to drain)."""

from __future__ import annotations

import signal
import threading
from argparse import ArgumentParser
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

from courier_web.outbox.backoff import Backoff
from courier_web.outbox.broker import BrokerOptions, redact_url
from courier_web.outbox.dispatch import dispatch_mode
from courier_web.outbox.publisher import PikaPublisher
from courier_web.outbox.relay import START_BROKER_HINT, Relay, RelayConfig
from courier_web.outbox.relay_database import (
    DatabaseLink,
    RelayMisconfigured,
    describe_database,
    with_statement_timeout,
)
from courier_web.outbox.wakeup import NOTIFY_CHANNEL, NotifyWakeup, SleepWakeup, Wakeup

#: How the relay's connections appear in ``pg_stat_activity`` (its LISTEN one: ``... listen``).
APPLICATION_NAME = "courier-web relay"
#: libpq keywords Django passes that a plain psycopg connection does not take.
_DJANGO_ONLY = ("cursor_factory", "context", "prepare_threshold")


def listen_connection() -> Any:
    """A new autocommit psycopg connection for LISTEN only.

    To ``OUTBOX_LISTEN_URL`` when set (a direct connection past a transaction
    pooler), else to the default database, with its timeouts either way.
    """
    import psycopg

    params = connections["default"].get_connection_params()
    for django_only in _DJANGO_ONLY:
        params.pop(django_only, None)
    params["application_name"] = f"{APPLICATION_NAME} listen"
    params.pop("options", None)  # its statements wait on nothing: no timeout to set
    if settings.OUTBOX_LISTEN_URL:
        client_side = {
            key: params[key]
            for key in (
                "connect_timeout",
                "keepalives",
                "keepalives_idle",
                "keepalives_interval",
                "keepalives_count",
            )
            if key in params
        }
        return psycopg.connect(
            settings.OUTBOX_LISTEN_URL,
            autocommit=True,
            application_name=params["application_name"],
            **client_side,
        )
    return psycopg.connect(**params, autocommit=True)


def send_probe(token: str) -> None:
    """Notify the relay's channel through the relay's own connection (``NotifyWakeup``'s check)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, token])


def make_wakeup(mode: str, stop: threading.Event) -> Wakeup:
    """NOTIFY where it can work (checked on first use), else the poll interval."""
    if mode != "notify":
        return SleepWakeup(stop)
    if settings.DATABASE_TRANSACTION_POOLING and not settings.OUTBOX_LISTEN_URL:
        return SleepWakeup(stop)  # LISTEN through the pooler would receive nothing
    return NotifyWakeup(listen_connection, stop, probe=send_probe)


def configure_relay_connections() -> None:
    """Name the relay's connections and give them ``OUTBOX_STATEMENT_TIMEOUT``.

    The name (``application_name``) tells them apart in ``pg_stat_activity``.
    The timeout is a startup option, so not through a transaction pooler,
    which refuses or drops those (set it on the database role there: docs/outbox.md).
    """
    db = connections["default"].settings_dict
    if not db["ENGINE"].endswith("postgresql"):
        return
    options = {"application_name": APPLICATION_NAME, **(db.get("OPTIONS") or {})}
    if not settings.DATABASE_TRANSACTION_POOLING:
        options = with_statement_timeout(options, settings.OUTBOX_STATEMENT_TIMEOUT)
    db["OPTIONS"] = options
    connections["default"].close()  # a connection opened before (system checks) takes them too


@contextmanager
def serving_metrics(port: int, relay: Relay) -> Iterator[None]:
    """This process's Prometheus metrics on ``port`` (0: none), with the relay's gauges."""
    if not port:
        yield
        return
    from prometheus_client import start_http_server

    from courier_web.metrics.collectors import RelayCollector
    from courier_web.metrics.registry import REGISTRY

    collector = RelayCollector(relay.health)
    REGISTRY.register(collector)
    try:
        start_http_server(port, registry=REGISTRY)
        yield
    finally:
        REGISTRY.unregister(collector)


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
        configure_relay_connections()
        mode = dispatch_mode()
        grace = options["grace"]
        if grace is None:  # only an in-process publisher needs a head start
            grace = settings.OUTBOX_RELAY_GRACE if mode == "thread" else 0.0
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
            wakeup=make_wakeup(mode, stop),
            database=DatabaseLink(
                Backoff(
                    initial=settings.OUTBOX_BACKOFF_INITIAL,
                    maximum=settings.OUTBOX_DB_BACKOFF_MAX,
                ),
                database=describe_database(),
            ),
        )
        try:
            with serving_metrics(options["metrics_port"], relay):
                stats = relay.run(once=options["once"])
        except RelayMisconfigured as exc:
            raise CommandError(str(exc)) from exc
        if options["once"] and stats.database_errors:
            raise CommandError(
                f"the database at {relay.database.database} did not answer; pending rows "
                "stay pending: run again once it does"
            )
        if options["once"] and stats.broker_errors:
            raise CommandError(
                f"the broker at {redact_url(broker.url)} did not take the pending rows; "
                + START_BROKER_HINT
            )
