"""The relay through real PostgreSQL outages: it waits, reconnects, and publishes every row.

The relay (a ``courier-web relay_outbox`` process) reaches a database created
for the test through ``DatabaseProxy``, which the test cuts, refuses or
freezes (the machine's PostgreSQL itself is never restarted); rows are
written past the proxy, so they commit while the relay cannot see them. The
relay polls only every 30 s: rows published within seconds were found by
its sweep after reconnecting, or announced by a LISTEN it set up again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from courier_testkit.db_proxy import DatabaseProxy
from shared_contracts import decode

from tests.component.conftest import Observer, eventually
from tests.component.test_relay_postgres import (
    ADMIN_URL,
    courier_web,
    log_events,
    postgres_url,
    web_env,
)

__all__ = ["postgres_url"]  # the fixture, shared with the two-relay test

pytestmark = pytest.mark.timeout(120)


def seed(env: dict[str, str], start: int, count: int) -> None:
    """Commit ``count`` outbox rows (``ProbeSent`` ``start``..), past the proxy."""
    code = (
        "from django.db import transaction\n"
        "from shared_contracts import ProbeSent\n"
        "from courier_web.outbox.writing import outbox_enqueue\n"
        f"for i in range({start}, {start + count}):\n"
        "    with transaction.atomic():\n"
        "        outbox_enqueue(ProbeSent(sequence=i), correlation_id=f'outage-{i}')\n"
    )
    courier_web("shell", "-c", code, env=env)


class RelayProcess:
    """``relay_outbox`` as a process, its JSON log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "courier_web", "relay_outbox"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def events(self, name: str) -> list[dict[str, object]]:
        return [e for e in log_events(self.log) if e.get("event") == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 30) -> None:
        assert eventually(lambda: len(self.events(name)) >= count, timeout=timeout), (
            f"no {name} in: {self.log.read_text()[-3000:]}"
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def proxy() -> Iterator[DatabaseProxy]:
    with DatabaseProxy() as proxy:
        yield proxy


@pytest.fixture
def direct_env(postgres_url: str, amqp_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of processes that reach the database directly (seeds, migrations)."""
    env = web_env(postgres_url, amqp_url, tmp_path)
    courier_web("migrate", "--noinput", "-v", "0", env=env)
    return env


@pytest.fixture
def relay_env(
    direct_env: dict[str, str], postgres_url: str, proxy: DatabaseProxy
) -> dict[str, str]:
    database = postgres_url.rsplit("/", 1)[1]
    env = dict(direct_env)
    del env["OUTBOX_DISPATCH"]  # auto: NOTIFY on PostgreSQL
    env.update(
        DATABASE_URL=proxy.url(database),
        OUTBOX_POLL_INTERVAL="30",
        OUTBOX_BACKOFF_INITIAL="0.2",
        OUTBOX_DB_BACKOFF_MAX="1",
        DATABASE_CONNECT_TIMEOUT="2",
    )
    return env


@pytest.fixture
def relays(relay_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., RelayProcess]]:
    started: list[RelayProcess] = []

    def start(**extra: str) -> RelayProcess:
        relay = RelayProcess({**relay_env, **extra}, tmp_path / f"relay-{len(started)}.log")
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()


def sequences(observer: Observer) -> set[int]:
    return {
        int(decode(body, props.headers).payload.sequence) for _, props, body in observer.received
    }


def test_the_relay_rides_out_a_restart_and_sweeps_what_committed_meanwhile(
    direct_env: dict[str, str],
    proxy: DatabaseProxy,
    relays: Callable[..., RelayProcess],
    observe: Callable[[str], Observer],
) -> None:
    observer = observe("diagnostic.probe_sent.v1")
    relay = relays()
    relay.wait_for("outbox.listening")  # LISTEN checked: woken at commit from here on
    seed(direct_env, 0, 5)
    observer.wait_for(5, timeout=10)
    assert sequences(observer) == set(range(5))

    proxy.down()  # the database "restarts": connections cut, new ones refused
    relay.wait_for("outbox.database_lost")
    seed(direct_env, 5, 20)  # committed while the relay cannot reach the database
    proxy.up()
    back = time.monotonic()
    observer.wait_for(25, timeout=20)
    recovered = time.monotonic() - back
    assert sequences(observer) == set(range(25))

    seed(direct_env, 25, 3)  # and LISTEN works again: no 30 s poll needed
    observer.wait_for(28, timeout=10)
    observer.settle(0.5)

    assert relay.stop() == 0, relay.log.read_text()[-3000:]
    assert sequences(observer) == set(range(28))
    assert len(relay.events("outbox.database_lost")) == 1
    assert len(relay.events("outbox.database_back")) == 1
    assert "Traceback" not in relay.log.read_text()
    print(f"database back -> 20 rows committed meanwhile published in {recovered:.2f} s")
    assert recovered < 10


def test_a_relay_started_while_the_database_is_down_waits_for_it(
    direct_env: dict[str, str],
    proxy: DatabaseProxy,
    relays: Callable[..., RelayProcess],
    observe: Callable[[str], Observer],
) -> None:
    observer = observe("diagnostic.probe_sent.v1")
    proxy.down()
    relay = relays()
    relay.wait_for("outbox.database_unreachable")
    seed(direct_env, 0, 3)
    # Still waiting, not exited: a few reconnection attempts later it is running.
    assert not eventually(lambda: relay.process.poll() is not None, timeout=3)
    assert len(relay.events("outbox.database_unreachable")) == 1  # once, not per attempt

    proxy.up()
    observer.wait_for(3, timeout=15)

    assert sequences(observer) == {0, 1, 2}
    relay.wait_for("outbox.database_back")
    assert relay.stop() == 0


def test_a_frozen_database_holds_the_relay_until_it_thaws(
    direct_env: dict[str, str],
    proxy: DatabaseProxy,
    relays: Callable[..., RelayProcess],
    observe: Callable[[str], Observer],
) -> None:
    observer = observe("diagnostic.probe_sent.v1")
    relay = relays()
    relay.wait_for("outbox.listening")
    proxy.freeze()  # nothing moves, nothing is refused (docker pause)
    seed(direct_env, 0, 5)
    observer.drain(timeout=2.0)
    assert observer.received == []  # the announcements wait in the frozen connection

    proxy.thaw()
    thawed = time.monotonic()
    observer.wait_for(5, timeout=15)

    assert sequences(observer) == set(range(5))
    print(f"thawed -> published in {time.monotonic() - thawed:.2f} s")
    assert relay.stop() == 0


def test_backends_killed_while_rows_stream_lose_nothing(
    direct_env: dict[str, str],
    postgres_url: str,
    relays: Callable[..., RelayProcess],
    observe: Callable[[str], Observer],
) -> None:
    """``pg_terminate_backend`` on the relay's connections, again and again, mid-stream.

    Some kills land between a broker confirm and the mark-sent: that batch is
    published again (at-least-once), which the worker's idempotency absorbs.
    """
    observer = observe("diagnostic.probe_sent.v1")
    relay = relays()
    relay.wait_for("outbox.listening")
    database = postgres_url.rsplit("/", 1)[1]
    stop = threading.Event()
    kills = 0

    def kill_the_relays_backends() -> None:
        nonlocal kills
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            while not stop.wait(0.15):
                row = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name LIKE 'courier-web relay%%'",
                    [database],
                ).fetchone()
                kills += int(row[0]) if row else 0

    killer = threading.Thread(target=kill_the_relays_backends)
    killer.start()
    try:
        seed(direct_env, 0, 100)  # one transaction per row, as requests commit them
    finally:
        stop.set()
        killer.join()
    observer.wait_for(100, timeout=60)  # published at least once each, however often cut
    observer.settle(1.0)

    assert relay.process.poll() is None, relay.log.read_text()[-3000:]
    assert sequences(observer) == set(range(100))
    assert relay.stop() == 0
    print(f"{kills} backends killed; {len(observer.received)} messages for 100 rows")
    assert kills > 0
    with psycopg.connect(postgres_url) as conn:
        pending = conn.execute(
            "SELECT count(*) FROM outbox_outboxmessage WHERE status <> 'sent'"
        ).fetchone()
    assert pending == (0,)


def run_relay_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The relay in the foreground, until it exits (it should, at once)."""
    return subprocess.run(
        [sys.executable, "-m", "courier_web", "relay_outbox"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_wrong_role_or_missing_tables_stop_the_relay_saying_what_to_fix(
    postgres_url: str, amqp_url: str, tmp_path: Path
) -> None:
    env = web_env(postgres_url, amqp_url, tmp_path)  # no migrations: no outbox table
    missing = run_relay_once(env)
    assert missing.returncode == 1
    assert "courier-web migrate" in missing.stderr
    assert "Traceback" not in missing.stderr

    env["DATABASE_URL"] = postgres_url.replace("://postgres@", "://no_such_role@")
    refused = run_relay_once(env)
    assert refused.returncode == 1
    assert "refuses the relay" in refused.stderr
    assert "no_such_role" in refused.stderr
    assert "Traceback" not in refused.stderr
