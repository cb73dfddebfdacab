"""``NotifyWakeup`` (fake connections; the real LISTEN is in tests/component)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import structlog

from courier_web.outbox.wakeup import NOTIFY_CHANNEL, NotifyWakeup


class FakeListenConnection:
    def __init__(self, queued: int = 0, broken: bool = False) -> None:
        self.queued = queued
        self.broken = broken
        self.executed: list[str] = []
        self.closed = False

    def execute(self, sql: str) -> None:
        if self.broken:
            raise OSError("server closed the connection unexpectedly")
        self.executed.append(sql)

    def notifies(self, *, timeout: float, stop_after: int | None = None) -> Iterator[Any]:
        delivered = 0
        while self.queued and (stop_after is None or delivered < stop_after):
            self.queued -= 1
            delivered += 1
            yield SimpleNamespace(payload=str(100 + self.queued))
        if not delivered and timeout:
            time.sleep(timeout)

    def close(self) -> None:
        self.closed = True


def test_a_queued_notification_ends_the_wait_and_the_rest_are_folded_into_it() -> None:
    conn = FakeListenConnection(queued=3)
    wakeup = NotifyWakeup(lambda: conn, threading.Event())

    started = time.monotonic()
    ids = wakeup.wait(5.0)

    assert time.monotonic() - started < 1.0
    assert conn.executed == [f"LISTEN {NOTIFY_CHANNEL}"]
    assert sorted(ids) == [100, 101, 102]  # every queued row id, in one wake-up
    assert conn.queued == 0


def test_without_notification_it_waits_the_interval_and_a_stop_cuts_it_short() -> None:
    stop = threading.Event()
    wakeup = NotifyWakeup(lambda: FakeListenConnection(), stop)

    started = time.monotonic()
    assert wakeup.wait(0.3) == []
    assert 0.25 <= time.monotonic() - started < 1.0

    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    wakeup.wait(30.0)
    assert time.monotonic() - started < 2.0


def test_a_failing_connection_is_reported_once_and_listened_on_again_later() -> None:
    connections = [FakeListenConnection(broken=True), FakeListenConnection(broken=True)]
    healthy = FakeListenConnection(queued=1)
    wakeup = NotifyWakeup(lambda: connections.pop(0) if connections else healthy, threading.Event())

    with structlog.testing.capture_logs() as logs:
        assert wakeup.wait(0.01) == []
        assert wakeup.wait(0.01) == []
        assert wakeup.wait(5.0) == [100]

    assert [line["event"] for line in logs] == ["outbox.listen_failed", "outbox.listen_restored"]
    assert healthy.executed == [f"LISTEN {NOTIFY_CHANNEL}"]
    wakeup.close()
    assert healthy.closed
