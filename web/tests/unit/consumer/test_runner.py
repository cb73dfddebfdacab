"""The consuming loop's own resilience (no broker: the session is replaced by a fake)."""

from __future__ import annotations

import threading

import pika.exceptions
import pytest

from courier_web.consumer.runner import Consumer
from courier_web.outbox.backoff import Backoff
from courier_web.outbox.broker import BrokerOptions


@pytest.mark.parametrize(
    "failure",
    [
        pika.exceptions.AMQPHeartbeatTimeout("no heartbeat"),
        ConnectionResetError("reset"),
        AttributeError("'NoneType' object has no attribute 'sendall'"),
    ],
    ids=["broker", "socket", "unexpected"],
)
def test_a_failed_session_is_followed_by_another_never_by_an_exit(failure: Exception) -> None:
    stop = threading.Event()
    consumer = Consumer(
        BrokerOptions(url="amqp://guest:guest@127.0.0.1:1/%2F"),
        stop=stop,
        backoff=Backoff(initial=0.001, maximum=0.002),
    )
    sessions: list[int] = []

    def session() -> None:
        sessions.append(1)
        if len(sessions) < 3:
            raise failure
        stop.set()  # the third session ends as a SIGTERM would end it

    consumer._session = session  # type: ignore[method-assign]
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert len(sessions) == 3
    assert consumer.backoff.failures == 2
