"""How ``relay_outbox`` sets up its database side: timeouts, LISTEN or polling, its gauges."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from courier_web.metrics.collectors import RelayCollector
from courier_web.outbox.management.commands.relay_outbox import make_wakeup
from courier_web.outbox.relay_database import describe_database, with_statement_timeout
from courier_web.outbox.relay_state import RelayHealth
from courier_web.outbox.wakeup import NotifyWakeup, SleepWakeup


def test_the_statement_timeout_joins_the_startup_options() -> None:
    assert with_statement_timeout({}, 10) == {"options": "-c statement_timeout=10000"}
    assert with_statement_timeout({"options": "-c search_path=app", "sslmode": "require"}, 2.5) == {
        "options": "-c search_path=app -c statement_timeout=2500",
        "sslmode": "require",
    }
    assert with_statement_timeout({"sslmode": "require"}, 0) == {"sslmode": "require"}


def test_the_relay_listens_unless_a_transaction_pooler_is_in_the_way(settings: Any) -> None:
    stop = threading.Event()
    settings.DATABASE_TRANSACTION_POOLING = False
    settings.OUTBOX_LISTEN_URL = ""
    assert isinstance(make_wakeup("notify", stop), NotifyWakeup)
    assert isinstance(make_wakeup("off", stop), SleepWakeup)

    settings.DATABASE_TRANSACTION_POOLING = True
    assert isinstance(make_wakeup("notify", stop), SleepWakeup)  # LISTEN would hear nothing
    settings.OUTBOX_LISTEN_URL = "postgresql://courier@postgres:5432/courier_web"
    assert isinstance(make_wakeup("notify", stop), NotifyWakeup)  # past the pooler


def test_the_database_is_described_without_its_password() -> None:
    described = describe_database(
        {
            "ENGINE": "django.db.backends.postgresql",
            "USER": "courier",
            "PASSWORD": "s3cret",
            "HOST": "db",
            "PORT": 6432,
            "NAME": "courier_web",
        }
    )

    assert described == "postgresql://courier@db:6432/courier_web"


def test_the_relay_gauges_say_what_is_away() -> None:
    health = RelayHealth(broker_up=True, database_up=False, database_errors=3)
    registry = CollectorRegistry()
    registry.register(RelayCollector(lambda: health))

    text = generate_latest(registry).decode()

    assert "courier_web_outbox_relay_database_up 0.0" in text
    assert "courier_web_outbox_relay_broker_up 1.0" in text
    assert "courier_web_outbox_relay_database_errors_total 3.0" in text
