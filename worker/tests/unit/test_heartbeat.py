"""The liveness file is touched only while the worker consumes every queue it should."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from courier_worker.cli import main
from courier_worker.heartbeat import Heartbeat, not_consuming
from structlog.testing import capture_logs

QUEUES = ("courier.worker.critical", "courier.worker.bulk")


@dataclass
class FakeConnection:
    connected: bool = True


@dataclass
class FakeChannel:
    is_open: bool = True


@dataclass
class FakeTaskConsumer:
    channel: FakeChannel | None = field(default_factory=FakeChannel)
    _active_tags: dict[str, str] = field(default_factory=lambda: {q: f"tag-{q}" for q in QUEUES})


@dataclass
class FakeQueues:
    consume_from: dict[str, object] = field(default_factory=lambda: dict.fromkeys(QUEUES))


@dataclass
class FakeAmqp:
    queues: FakeQueues = field(default_factory=FakeQueues)


@dataclass
class FakeApp:
    amqp: FakeAmqp = field(default_factory=FakeAmqp)


@dataclass
class FakeConsumer:
    """What the heartbeat reads of Celery's consumer, and nothing else."""

    connection: FakeConnection | None = field(default_factory=FakeConnection)
    task_consumer: FakeTaskConsumer | None = field(default_factory=FakeTaskConsumer)
    app: FakeApp = field(default_factory=FakeApp)


@dataclass
class FakeWorker:
    consumer: Any = field(default_factory=FakeConsumer)


def test_a_consumer_on_every_queue_is_consuming() -> None:
    assert not_consuming(FakeConsumer()) is None


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (lambda c: setattr(c, "connection", None), "not connected"),
        (lambda c: setattr(c.connection, "connected", False), "not connected"),
        (lambda c: setattr(c, "task_consumer", None), "no task consumer"),
        (lambda c: setattr(c.task_consumer.channel, "is_open", False), "channel is closed"),
        (lambda c: c.task_consumer._active_tags.clear(), "no queue is consumed"),
        (
            lambda c: c.task_consumer._active_tags.pop("courier.worker.bulk"),
            "not consuming courier.worker.bulk",
        ),
    ],
    ids=["no-connection", "disconnected", "restarting", "channel-closed", "no-tags", "one-lost"],
)
def test_anything_short_of_that_is_not(break_it: Any, reason: str) -> None:
    consumer = FakeConsumer()
    break_it(consumer)

    problem = not_consuming(consumer)

    assert problem is not None
    assert reason in problem


def test_a_queue_the_operator_deselected_is_not_missed() -> None:
    # `celery control cancel_consumer` deselects the queue as it cancels its consumer.
    consumer = FakeConsumer()
    assert consumer.task_consumer is not None
    consumer.task_consumer._active_tags.pop("courier.worker.bulk")
    consumer.app.amqp.queues.consume_from.pop("courier.worker.bulk")

    assert not_consuming(consumer) is None


def test_the_file_is_touched_only_while_consuming(worker_home: Path) -> None:
    path = worker_home / "var" / "worker.heartbeat"  # WORKER_HEARTBEAT_FILE's default
    step = Heartbeat(FakeWorker())
    worker = FakeWorker()

    step.tick(worker)
    assert main(["healthcheck", "--file", str(path), "--max-age", "30"]) == 0

    path.unlink()
    worker.consumer.task_consumer._active_tags.clear()
    step.tick(worker)
    assert not path.exists()
    assert main(["healthcheck", "--file", str(path)]) == 1

    worker.consumer.task_consumer._active_tags["courier.worker.critical"] = "tag-1"
    worker.consumer.task_consumer._active_tags["courier.worker.bulk"] = "tag-2"
    step.tick(worker)
    assert main(["healthcheck", "--file", str(path), "--max-age", "30"]) == 0


def test_each_change_of_state_is_logged_once() -> None:
    step = Heartbeat(FakeWorker())
    worker = FakeWorker()
    worker.consumer.connection.connected = False

    with capture_logs() as logs:
        for _ in range(3):
            step.tick(worker)
        worker.consumer.connection.connected = True
        for _ in range(3):
            step.tick(worker)

    events = [entry["event"] for entry in logs]
    assert events == ["worker.not_consuming", "worker.consuming_again"]
    assert logs[0]["reason"] == "not connected to the broker"
