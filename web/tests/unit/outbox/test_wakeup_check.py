"""``NotifyWakeup`` checks its first LISTEN, and hands a broken connection back to the relay.

Fakes only: a "pooled" connection whose LISTEN receives nothing stands for
PgBouncer in transaction mode (tests_integration/scenarios/test_pgbouncer.py
runs the real one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import structlog

from courier_web.outbox.wakeup import NotifyWakeup


class Channel:
    """The server side: what was notified, delivered to the connections that really listen."""

    def __init__(self) -> None:
        self.listeners: list[FakeConnection] = []

    def notify(self, payload: str) -> None:
        for listener in self.listeners:
            listener.queue.append(payload)


class FakeConnection:
    def __init__(self, channel: Channel, *, pooled: bool = False) -> None:
        self.channel = channel
        self.pooled = pooled  # LISTEN "works" but the session it ran in is gone at once
        self.queue: list[str] = []
        self.closed = False
        self.broken = False

    def execute(self, sql: str) -> None:
        if sql.startswith("LISTEN") and not self.pooled:
            self.channel.listeners.append(self)

    def notifies(self, *, timeout: float, stop_after: int | None = None) -> Iterator[Any]:
        if self.broken:
            raise OSError("server closed the connection unexpectedly")
        delivered = 0
        while self.queue and (stop_after is None or delivered < stop_after):
            delivered += 1
            yield SimpleNamespace(payload=self.queue.pop(0))
        if not delivered and timeout:
            time.sleep(min(timeout, 0.05))

    def close(self) -> None:
        self.closed = True


def test_a_listen_that_receives_its_own_notification_is_trusted() -> None:
    channel = Channel()
    conn = FakeConnection(channel)
    wakeup = NotifyWakeup(lambda: conn, threading.Event(), probe=channel.notify, probe_timeout=1)

    with structlog.testing.capture_logs() as logs:
        assert wakeup.wait(0.1) == []
        channel.notify("42")
        assert wakeup.wait(1.0) == [42]

    assert [line["event"] for line in logs] == ["outbox.listening"]
    assert wakeup.mode == "notify"


def test_rows_announced_while_the_check_waits_are_not_lost() -> None:
    channel = Channel()
    conn = FakeConnection(channel)

    def probe(token: str) -> None:
        channel.notify("7")  # a commit lands just before the check's own notification
        channel.notify(token)

    wakeup = NotifyWakeup(lambda: conn, threading.Event(), probe=probe, probe_timeout=1)

    assert wakeup.wait(1.0) == [7]


def test_a_listen_that_never_receives_falls_back_to_polling_and_says_so_once() -> None:
    channel = Channel()
    connections = []

    def connect() -> FakeConnection:
        connections.append(FakeConnection(channel, pooled=True))
        return connections[-1]

    wakeup = NotifyWakeup(connect, threading.Event(), probe=channel.notify, probe_timeout=0.3)

    with structlog.testing.capture_logs() as logs:
        started = time.monotonic()
        assert wakeup.wait(0.1) == []
        assert wakeup.wait(0.1) == []
        assert wakeup.wait(0.1) == []

    assert [line["event"] for line in logs] == ["outbox.listen_unsupported"]
    assert "OUTBOX_LISTEN_URL" in logs[0]["hint"]
    assert len(connections) == 1  # never tried again
    assert connections[0].closed
    assert wakeup.mode == "poll"
    assert time.monotonic() - started < 2.0


def test_a_lost_connection_returns_at_once_and_silently_then_listens_again() -> None:
    channel = Channel()
    connections: list[FakeConnection] = []

    def connect() -> FakeConnection:
        connections.append(FakeConnection(channel))
        return connections[-1]

    wakeup = NotifyWakeup(connect, threading.Event())
    assert wakeup.wait(0.05) == []
    connections[0].broken = True  # the database restarted under it

    with structlog.testing.capture_logs() as logs:
        started = time.monotonic()
        assert wakeup.wait(30.0) == []  # at once: the relay's next claim tells what happened
        assert time.monotonic() - started < 1.0
        assert wakeup.wait(0.05) == []  # a new connection, LISTENing again
        channel.notify("5")
        assert wakeup.wait(1.0) == [5]

    assert logs == []
    assert len(connections) == 2
    assert connections[0].closed
