"""A worker answers the exporter's markers and runs nothing; anything else passes through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from courier_worker.queue_markers import MARKER_TYPE, MarkerBody, answer_marker


class FakeMessage:
    """The part of ``kombu.Message`` the consumer hands over."""

    def __init__(self, body: bytes, **properties: Any) -> None:
        self.body = body
        self.properties = properties
        self.acked = 0

    def ack_log_error(self, logger: Any, errors: Any) -> None:
        self.acked += 1


class FakeProducer:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.published: list[dict[str, Any]] = []

    def publish(self, body: bytes, **options: Any) -> None:
        if self.fail:
            raise ConnectionResetError("broker went away")
        self.published.append({"body": body, **options})


class FakeApp:
    """The part of the Celery app ``answer_marker`` uses: its producer pool."""

    def __init__(self, *, fail: bool = False) -> None:
        self.producer = FakeProducer(fail)

    @contextmanager
    def producer_or_acquire(self) -> Iterator[FakeProducer]:
        yield self.producer


REPLY_TO = "courier.worker.queue-age.host.1.abcd"
BODY = MarkerBody("host.1.abcd", "courier.worker.critical", 7, 1000.0).encode()


def test_a_marker_is_sent_back_unchanged_and_acknowledged() -> None:
    app = FakeApp()
    message = FakeMessage(BODY, type=MARKER_TYPE, reply_to=REPLY_TO)

    assert answer_marker(message, app)  # type: ignore[arg-type]

    assert message.acked == 1
    [reply] = app.producer.published
    assert reply["body"] == BODY
    assert reply["exchange"] == ""
    assert reply["routing_key"] == REPLY_TO
    # Answered from the consumer's event loop: a slow broker must not hold it for long.
    assert reply["confirm_timeout"] <= 2


def test_a_task_message_is_left_alone() -> None:
    app = FakeApp()
    message = FakeMessage(b"[[], {}, {}]", reply_to=REPLY_TO)

    assert not answer_marker(message, app)  # type: ignore[arg-type]

    assert message.acked == 0
    assert app.producer.published == []


def test_a_marker_asking_for_a_reply_into_another_queue_is_dropped() -> None:
    app = FakeApp()
    message = FakeMessage(BODY, type=MARKER_TYPE, reply_to="courier.worker.critical")

    assert answer_marker(message, app)  # type: ignore[arg-type]

    assert message.acked == 1
    assert app.producer.published == []


def test_an_oversized_marker_is_not_echoed() -> None:
    app = FakeApp()
    message = FakeMessage(b"x" * 5000, type=MARKER_TYPE, reply_to=REPLY_TO)

    assert answer_marker(message, app)  # type: ignore[arg-type]

    assert app.producer.published == []
    assert message.acked == 1


def test_a_failed_answer_still_acknowledges_the_marker() -> None:
    app = FakeApp(fail=True)
    message = FakeMessage(BODY, type=MARKER_TYPE, reply_to=REPLY_TO)

    assert answer_marker(message, app)  # type: ignore[arg-type]

    assert message.acked == 1


def test_marker_bodies_round_trip_and_garbage_is_not_a_marker() -> None:
    assert MarkerBody.decode(BODY) == MarkerBody(
        "host.1.abcd", "courier.worker.critical", 7, 1000.0
    )
    assert MarkerBody.decode(b"not json") is None
    assert MarkerBody.decode(b'{"exporter": "x"}') is None
    assert MarkerBody.decode(b"[1, 2]") is None
