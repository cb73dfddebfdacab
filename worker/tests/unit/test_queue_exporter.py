"""The queue exporter's rounds and gauges, against a fake broker that keeps real FIFO queues."""

from __future__ import annotations

from courier_worker.queue_exporter import (
    QueueCollector,
    QueueExporter,
    WatchedQueue,
    watched_queues,
)
from courier_worker.queue_exporter.state import DEAD_LETTER, DELAY, WORK
from courier_worker.queues import BULK, CRITICAL
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

WORK_QUEUE = WatchedQueue("courier.worker.critical", WORK)
LETTERS = WatchedQueue("courier.worker.critical.dead-letter", DEAD_LETTER)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeBroker:
    """Queues of message bodies with a consumer count each; a missing queue answers None."""

    def __init__(self, **queues: list[bytes]) -> None:
        self.queues = {name.replace("_", "."): messages for name, messages in queues.items()}
        self.consumers: dict[str, int] = {}

    def inspect(self, queue: str) -> tuple[int, int] | None:
        if queue not in self.queues:
            return None
        return len(self.queues[queue]), self.consumers.get(queue, 0)

    def publish_marker(self, queue: str, body: bytes) -> None:
        self.queues[queue].append(body)

    def consume(self, queue: str, exporter: QueueExporter) -> None:
        """A worker takes every ready message; markers are answered."""
        for body in self.queues[queue]:
            exporter.answered(body)
        self.queues[queue].clear()


def _broker() -> FakeBroker:
    return FakeBroker(**{WORK_QUEUE.name: [], LETTERS.name: [b"letter"]})


def _gauges(exporter: QueueExporter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(exporter))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _age(exporter: QueueExporter) -> float:
    return _gauges(exporter)[
        (
            "courier_queue_oldest_waiting_age_seconds",
            (("kind", "work"), ("queue", WORK_QUEUE.name)),
        )
    ]


def test_counts_and_consumers_of_every_queue_kind() -> None:
    broker, clock = _broker(), Clock()
    broker.consumers[WORK_QUEUE.name] = 2
    exporter = QueueExporter((WORK_QUEUE, LETTERS), interval=15, clock=clock)

    exporter.poll(broker)

    gauges = _gauges(exporter)
    work = (("kind", "work"), ("queue", WORK_QUEUE.name))
    letters = (("kind", "dead-letter"), ("queue", LETTERS.name))
    assert gauges[("courier_queue_exporter_broker_up", ())] == 1
    assert gauges[("courier_queue_messages_ready", letters)] == 1
    assert gauges[("courier_queue_consumers", work)] == 2
    assert gauges[("courier_queue_age_resolution_seconds", ())] == 15
    # Counts are read before the round's marker goes out.
    assert gauges[("courier_queue_messages_ready", work)] == 0
    # Markers go to work queues only.
    assert len(broker.queues[WORK_QUEUE.name]) == 1
    assert broker.queues[LETTERS.name] == [b"letter"]
    assert ("courier_queue_oldest_waiting_age_seconds", letters) not in gauges


def test_the_age_grows_while_nobody_consumes_and_drops_once_a_worker_does() -> None:
    broker, clock = _broker(), Clock()
    exporter = QueueExporter((WORK_QUEUE, LETTERS), interval=15, clock=clock)
    exporter.poll(broker)
    for _ in range(4):
        clock.now += 15
        exporter.poll(broker)

    clock.now += 5
    assert _age(exporter) == 65.0  # the first marker, published 65 s ago, is still queued

    broker.consume(WORK_QUEUE.name, exporter)
    assert _age(exporter) == 0.0


def test_markers_of_another_exporter_are_ignored() -> None:
    broker, clock = _broker(), Clock()
    mine = QueueExporter((WORK_QUEUE,), clock=clock)
    other = QueueExporter((WORK_QUEUE,), clock=clock)
    other.poll(broker)
    theirs = list(broker.queues[WORK_QUEUE.name])
    mine.poll(broker)
    clock.now += 30

    for body in theirs:
        mine.answered(body)

    assert _age(mine) == 30.0


def test_a_missing_queue_is_left_out_and_found_again() -> None:
    broker, clock = _broker(), Clock()
    exporter = QueueExporter((WORK_QUEUE, LETTERS), clock=clock)
    exporter.poll(broker)
    del broker.queues[WORK_QUEUE.name]
    clock.now += 15

    exporter.poll(broker)

    names = {name for name, labels in _gauges(exporter) if ("queue", WORK_QUEUE.name) in labels}
    assert names == set()
    broker.queues[WORK_QUEUE.name] = []
    exporter.poll(broker)
    assert _age(exporter) == 0.0


def test_a_lost_broker_drops_the_counts_but_not_the_age() -> None:
    broker, clock = _broker(), Clock()
    exporter = QueueExporter((WORK_QUEUE, LETTERS), clock=clock)
    exporter.poll(broker)
    clock.now += 40

    exporter.broker_lost("ConnectionRefusedError: [Errno 111]")

    gauges = _gauges(exporter)
    assert gauges[("courier_queue_exporter_broker_up", ())] == 0
    assert not [name for name, _ in gauges if name == "courier_queue_messages_ready"]
    assert _age(exporter) == 40.0  # the marker is still in the (durable) queue


def test_the_worker_s_queues_are_watched_by_kind() -> None:
    queues = watched_queues((5, 60))

    assert WatchedQueue(CRITICAL.name, WORK) in queues
    assert WatchedQueue(BULK.name, WORK) in queues
    assert WatchedQueue(CRITICAL.dead_letter_queue, DEAD_LETTER) in queues
    assert WatchedQueue(BULK.delay_queue(60), DELAY) in queues
    assert len({queue.name for queue in queues}) == len(queues)


def test_counts_of_a_stalled_round_are_not_reported_as_current() -> None:
    broker, clock = _broker(), Clock()
    exporter = QueueExporter((WORK_QUEUE, LETTERS), interval=15, clock=clock)
    exporter.poll(broker)
    clock.now += 46  # no round for over three intervals: the loop waits on a silent broker

    gauges = _gauges(exporter)

    assert gauges[("courier_queue_exporter_broker_up", ())] == 0
    assert not [name for name, _ in gauges if name == "courier_queue_messages_ready"]
    assert _age(exporter) == 46.0
