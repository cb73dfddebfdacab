"""``courier-web consume_events``: consume the web's result queue until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from courier_web.consumer.runner import Consumer
from courier_web.outbox.backoff import Backoff
from courier_web.outbox.broker import BrokerOptions


class Command(BaseCommand):
    help = (
        "Consume the events addressed to the web (report and document results) from its "
        "own queue: validate, apply once, dead-letter what breaks the contracts."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--prefetch", type=int, default=None, help="messages taken ahead (CONSUMER_PREFETCH)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        mode = settings.CONSUMER_DECLARE
        if mode not in ("declare", "passive"):
            raise CommandError(f"CONSUMER_DECLARE must be declare or passive, not {mode!r}")
        stop = threading.Event()

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        Consumer(
            BrokerOptions.from_settings(connection_name="courier-web-consumer"),
            stop=stop,
            prefetch=options["prefetch"] or settings.CONSUMER_PREFETCH,
            passive=mode == "passive",
            backoff=Backoff(initial=0.5, maximum=settings.CONSUMER_BACKOFF_MAX),
        ).run()
