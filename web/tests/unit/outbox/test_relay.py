from __future__ import annotations

import threading

import pytest
import structlog
from shared_contracts import ProbeSent

from courier_web.outbox.backoff import Backoff
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.relay import Relay, RelayConfig
from courier_web.outbox.writing import outbox_enqueue
from tests.fakes import FakePublisher

pytestmark = pytest.mark.django_db


class ScriptedStop(threading.Event):
    """A stop event whose waits return at once, recording the delays asked for."""

    def __init__(self, stop_after_waits: int) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.stop_after_waits = stop_after_waits

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        if len(self.waits) >= self.stop_after_waits:
            self.set()
        return self.is_set()


def make_relay(publisher: FakePublisher, stop: threading.Event, batch_size: int = 2) -> Relay:
    return Relay(
        publisher,
        RelayConfig(batch_size=batch_size, poll_interval=0.5, grace=0.0),
        backoff=Backoff(initial=1.0, maximum=8.0, rng=lambda: 1.0),
        broker="amqp://guest:***@broker:5672/%2F",
        stop=stop,
    )


def enqueue(n: int) -> None:
    for i in range(n):
        outbox_enqueue(ProbeSent(sequence=i), correlation_id=f"probe-{i}")


def test_once_drains_every_pending_row_in_batches(fake_publisher: FakePublisher) -> None:
    enqueue(5)

    stats = make_relay(fake_publisher, threading.Event()).run(once=True)

    assert stats.sent == 5
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
    assert fake_publisher.closed == 1


def test_backs_off_exponentially_while_the_broker_is_away_and_logs_once(
    fake_publisher: FakePublisher,
) -> None:
    enqueue(3)
    fake_publisher.fail_next(times=3)
    stop = ScriptedStop(stop_after_waits=5)

    with structlog.testing.capture_logs() as logs:
        stats = make_relay(fake_publisher, stop, batch_size=10).run()

    assert stop.waits[:3] == [1.0, 2.0, 4.0]  # backoff while failing
    assert stop.waits[3] == 0.5  # then the idle poll interval
    assert stats.sent == 3
    assert stats.broker_errors == 3
    events = [entry["event"] for entry in logs]
    assert events.count("outbox.broker_unreachable") == 1
    assert events.count("outbox.broker_back") == 1
    assert "outbox.broker_lost" not in events
    unreachable = next(e for e in logs if e["event"] == "outbox.broker_unreachable")
    assert "rabbitmq-server -detached" in unreachable["hint"]
    assert "guest:guest" not in str(logs)


def test_once_stops_at_the_first_broker_failure(fake_publisher: FakePublisher) -> None:
    enqueue(2)
    fake_publisher.fail_next()

    stats = make_relay(fake_publisher, threading.Event()).run(once=True)

    assert stats.broker_errors == 1
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 2


def test_a_lost_broker_is_logged_once_when_lost_and_once_when_back(
    fake_publisher: FakePublisher,
) -> None:
    enqueue(1)
    stop = ScriptedStop(stop_after_waits=4)
    relay = make_relay(fake_publisher, stop)

    with structlog.testing.capture_logs() as logs:
        relay.run()  # publishes the first row, then idles
    assert stop.waits == [0.5, 0.5, 0.5, 0.5]
    enqueue(1)
    fake_publisher.fail_next(times=2)
    stop.clear()
    stop.waits.clear()
    with structlog.testing.capture_logs() as logs:
        relay.run()

    events = [entry["event"] for entry in logs]
    assert events.count("outbox.broker_lost") == 1
    assert events.count("outbox.broker_back") == 1
    assert "outbox.broker_unreachable" not in events


def test_a_broker_down_at_start_is_reported_once_with_how_to_start_one(
    fake_publisher: FakePublisher,
) -> None:
    fake_publisher.refuse_connections(times=3)
    stop = ScriptedStop(stop_after_waits=5)

    with structlog.testing.capture_logs() as logs:
        stats = make_relay(fake_publisher, stop).run()

    assert stop.waits == [1.0, 2.0, 4.0, 0.5, 0.5]
    assert stats.broker_errors == 3
    events = [entry["event"] for entry in logs]
    assert events.count("outbox.broker_unreachable") == 1
    assert events.count("outbox.broker_back") == 1
    assert fake_publisher.attempts == 0  # no row was touched while it was down


def test_a_backlog_drain_resumes_after_its_last_row_and_still_finds_rows_it_passed_over(
    fake_publisher: FakePublisher,
) -> None:
    enqueue(5)
    oldest = OutboxMessage.objects.order_by("created_at").values_list("created_at", flat=True)[0]
    claims: list[list[str]] = []
    publish_many = fake_publisher.publish_many

    def recording(messages):  # type: ignore[no-untyped-def]
        if not claims:
            # A row that commits (with the first batch) under an older timestamp
            # than the drain's position: the resumed claims pass over it.
            late = outbox_enqueue(ProbeSent(sequence=99), correlation_id="late")
            OutboxMessage.objects.filter(pk=late.pk).update(created_at=oldest)
        claims.append([message.message_id for message in messages])
        return publish_many(messages)

    fake_publisher.publish_many = recording  # type: ignore[method-assign]

    stats = make_relay(fake_publisher, threading.Event(), batch_size=2).run(once=True)

    assert stats.sent == 6
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
    published = [message_id for claim in claims for message_id in claim]
    every_row = OutboxMessage.objects.values_list("event_id", flat=True)
    assert sorted(published) == sorted(str(event_id) for event_id in every_row)  # each once
    # 2 + 2 + 1 resuming, then from the top: the late row alone.
    assert [len(claim) for claim in claims] == [2, 2, 1, 1]


class AnnouncingWakeup:
    """Announces rows written while the relay waits, like the outbox's NOTIFY trigger."""

    mode = "notify"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.waits = 0

    def wait(self, timeout: float) -> list[int]:
        self.waits += 1
        if self.waits == 1:
            rows = [
                outbox_enqueue(ProbeSent(sequence=i), correlation_id=f"announced-{i}")
                for i in range(3)
            ]
            return [row.pk for row in rows[:2]]  # the third was not announced (yet)
        self.stop.set()
        return []

    def close(self) -> None:
        return None


def test_announced_rows_are_claimed_by_id_and_the_rest_wait_for_the_next_sweep(
    fake_publisher: FakePublisher,
) -> None:
    stop = threading.Event()
    relay = Relay(
        fake_publisher,
        RelayConfig(batch_size=10, poll_interval=60.0, grace=0.0),
        backoff=Backoff(initial=1.0, maximum=8.0, rng=lambda: 1.0),
        broker="amqp://guest:***@broker:5672/%2F",
        stop=stop,
        wakeup=AnnouncingWakeup(stop),
    )

    stats = relay.run()

    # The first sweep found nothing; the two announced rows went out as one claim by
    # id; the unannounced one waits for the next sweep (a poll interval away).
    assert fake_publisher.batches == [2]
    assert stats.sent == 2
    statuses = dict(OutboxMessage.objects.values_list("correlation_id", "status"))
    assert statuses == {
        "announced-0": OutboxStatus.SENT,
        "announced-1": OutboxStatus.SENT,
        "announced-2": OutboxStatus.PENDING,
    }
