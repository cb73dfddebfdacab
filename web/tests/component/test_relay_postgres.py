"""Two relays over the same pending rows on PostgreSQL: each row is published once.

The relays run as separate processes against a database created for this test
(and dropped after it), as they would in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from shared_contracts import decode

from tests.component.conftest import Observer, eventually

ADMIN_URL = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = 1000

SEED = f"""
from django.db import transaction
from shared_contracts import ProbeSent
from courier_web.outbox.writing import outbox_enqueue
with transaction.atomic():
    for i in range({ROWS}):
        outbox_enqueue(ProbeSent(sequence=i), correlation_id=f"race-{{i}}")
"""


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"courier_web_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is needed at {ADMIN_URL} (POSTGRES_ADMIN_URL): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def web_env(database_url: str, amqp_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OUTBOX_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="courier_web.config.settings.base",
        DATABASE_URL=database_url,
        RABBITMQ_URL=amqp_url,
        COURIER_WEB_HOME=str(home),
        OUTBOX_DISPATCH="off",
        LOG_LEVEL="INFO",
    )
    return env


def courier_web(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "courier_web", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def log_events(path: Path) -> list[dict[str, object]]:
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def test_two_relays_publish_each_row_exactly_once(
    postgres_url: str,
    amqp_url: str,
    observe: Callable[[str], Observer],
    tmp_path: Path,
) -> None:
    env = web_env(postgres_url, amqp_url, tmp_path)
    courier_web("migrate", "--noinput", "-v", "0", env=env)
    observer = observe("diagnostic.probe_sent.v1")

    logs = [tmp_path / "relay-a.log", tmp_path / "relay-b.log"]
    relays = []
    for log in logs:
        with log.open("w") as out:
            relays.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "courier_web",
                        "relay_outbox",
                        "--grace",
                        "0",
                        "--poll-interval",
                        "0.05",
                        "--batch-size",
                        "20",
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        # Both relays are polling before any row exists, so they race for them.
        assert eventually(
            lambda: all(
                any(e.get("event") == "outbox.relay_started" for e in log_events(log))
                for log in logs
            ),
            timeout=30,
        ), [log.read_text() for log in logs]
        courier_web("shell", "-c", SEED, env=env)

        observer.wait_for(ROWS, timeout=60)
        observer.settle(1.0)
    finally:
        for relay in relays:
            relay.send_signal(signal.SIGTERM)
        for relay in relays:
            relay.wait(timeout=30)

    assert [relay.returncode for relay in relays] == [0, 0]
    event_ids = Counter(
        str(decode(body, props.headers).event_id) for _, props, body in observer.received
    )
    duplicates = {event_id: n for event_id, n in event_ids.items() if n > 1}
    assert duplicates == {}
    assert len(event_ids) == ROWS

    sent_by_relay = []
    for log in logs:
        stopped = [e for e in log_events(log) if e.get("event") == "outbox.relay_stopped"]
        assert len(stopped) == 1, log.read_text()[-2000:]
        sent_by_relay.append(stopped[0]["sent"])
    assert sum(sent_by_relay) == ROWS  # type: ignore[arg-type]
    print(f"rows published by each relay: {sent_by_relay}")

    with psycopg.connect(postgres_url) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM outbox_outboxmessage GROUP BY status"
            ).fetchall()
        )
    assert statuses == {"sent": ROWS}
