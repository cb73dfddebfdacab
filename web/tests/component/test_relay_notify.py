"""``OUTBOX_DISPATCH=notify`` on PostgreSQL: the relay publishes as soon as a row commits.

The relay polls only every 30 s here, so an event published within a few
seconds of its commit was woken by the outbox trigger's NOTIFY, not found by
a poll. The request side does nothing after commit (no in-process publisher).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.component.conftest import Observer, eventually
from tests.component.test_relay_postgres import courier_web, log_events, postgres_url, web_env

__all__ = ["postgres_url"]  # the fixture, shared with the two-relay test

ONE_ROW = """
from django.db import transaction
from shared_contracts import ProbeSent
from courier_web.outbox.dispatch import dispatch_mode, get_dispatcher, NullDispatcher
from courier_web.outbox.writing import outbox_enqueue
assert dispatch_mode() == "notify", dispatch_mode()
assert isinstance(get_dispatcher(), NullDispatcher)  # nothing publishes in-process
with transaction.atomic():
    outbox_enqueue(ProbeSent(sequence=1), correlation_id="notified")
"""


def test_a_committed_row_wakes_the_listening_relay_at_once(
    postgres_url: str,
    amqp_url: str,
    observe: Callable[[str], Observer],
    tmp_path: Path,
) -> None:
    env = web_env(postgres_url, amqp_url, tmp_path)
    del env["OUTBOX_DISPATCH"]  # the default: auto, i.e. notify on PostgreSQL
    env["OUTBOX_POLL_INTERVAL"] = "30"
    courier_web("migrate", "--noinput", "-v", "0", env=env)
    observer = observe("diagnostic.probe_sent.v1")
    log = tmp_path / "relay.log"
    with log.open("w") as out:
        relay = subprocess.Popen(
            [sys.executable, "-m", "courier_web", "relay_outbox"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # The relay's first (empty) claim is done and it is waiting on the channel.
        assert eventually(
            lambda: any(e.get("event") == "outbox.relay_started" for e in log_events(log)),
            timeout=30,
        ), log.read_text()
        time.sleep(1.0)
        committed = time.monotonic()
        courier_web("shell", "-c", ONE_ROW, env=env)
        observer.wait_for(1, timeout=10)
        published_after = time.monotonic() - committed
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=30)

    assert relay.returncode == 0, log.read_text()[-2000:]
    # The shell's own start-up (Django set-up) is most of this; a poll would take 30 s.
    print(f"published {published_after:.2f} s after the shell started")
    assert published_after < 10, published_after
    with psycopg.connect(postgres_url) as conn:
        (status,) = conn.execute("SELECT status FROM outbox_outboxmessage").fetchone() or ("?",)
    assert status == "sent"
    started = next(e for e in log_events(log) if e.get("event") == "outbox.relay_started")
    assert started["grace"] == 0.0  # no in-process publisher to leave a head start to
