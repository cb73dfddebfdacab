"""Scheduled jobs: epoch-aligned periods, one event id per job and period, run once each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from courier_worker import bootstrap
from courier_worker.audit_store import make_audit_trail
from courier_worker.beat import CourierScheduler
from courier_worker.celery_app import app, celery_config
from courier_worker.jobs import JOBS
from courier_worker.queues import BULK
from courier_worker.schedule import (
    RETENTION,
    SIGNUP_DIGEST,
    EveryPeriod,
    beat_schedule,
    jobs,
    period_ended,
    period_ended_by,
)
from courier_worker.settings import Settings, get_settings
from courier_worker.store import handled_events
from shared_contracts import Envelope, UserRegistered, decode, new_envelope
from shared_contracts.events.schedule import SchedulePeriodEnded
from sqlalchemy import insert, select

T = datetime(2026, 12, 2, 10, 0, 7, tzinfo=UTC)


def test_periods_are_aligned_on_the_epoch() -> None:
    period = period_ended_by(T, 10)
    assert (period.start, period.end) == (T - timedelta(seconds=17), T - timedelta(seconds=7))
    day = period_ended_by(T, 86400)
    assert (day.start, day.end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_two_schedulers_in_one_period_send_the_same_event_id() -> None:
    early, late = (
        period_ended(SIGNUP_DIGEST, 10, T),
        period_ended(SIGNUP_DIGEST, 10, T + timedelta(seconds=2.9)),
    )
    assert early.event_id == late.event_id
    assert early.payload == late.payload
    following = period_ended(SIGNUP_DIGEST, 10, T + timedelta(seconds=3))
    assert following.event_id != early.event_id
    assert following.payload.period_start == early.payload.period_end
    assert period_ended(RETENTION, 10, T).event_id != early.event_id


def test_every_period_is_due_once_after_each_boundary() -> None:
    clock = [T]
    schedule = EveryPeriod(10, nowfun=lambda: clock[0])
    assert not schedule.is_due(T - timedelta(seconds=5)).is_due  # same period
    state = schedule.is_due(T - timedelta(seconds=8))  # 09:59:59: the period before
    assert state.is_due
    assert state.next == pytest.approx(3.0)  # until 10:00:10
    clock[0] = T + timedelta(seconds=3)
    assert schedule.is_due(T).is_due
    with pytest.raises(ValueError, match="at least one second"):
        EveryPeriod(0)


def test_the_schedule_comes_from_the_settings() -> None:
    settings = Settings(SCHEDULE_SIGNUP_DIGEST_SECONDS=10, SCHEDULE_RETENTION_SECONDS=0)
    assert jobs(settings) == {SIGNUP_DIGEST: 10}
    assert beat_schedule(settings) == {
        SIGNUP_DIGEST: {"task": SchedulePeriodEnded.event_type, "schedule": EveryPeriod(10)}
    }
    defaults = Settings()
    assert jobs(defaults) == {SIGNUP_DIGEST: 86400, RETENTION: 86400}
    assert set(jobs(defaults)) == set(JOBS)  # every configurable job has its code
    config = celery_config(defaults)
    assert config["beat_scheduler"] == "courier_worker.beat:CourierScheduler"
    assert config["worker_send_task_events"] is True


class Producer:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, body: bytes, **kwargs: Any) -> None:
        self.published.append({"body": body, **kwargs})


def _scheduler(producer: Producer, monkeypatch: pytest.MonkeyPatch) -> CourierScheduler:
    monkeypatch.setitem(
        app.conf, "beat_schedule", beat_schedule(Settings(SCHEDULE_SIGNUP_DIGEST_SECONDS=60))
    )
    scheduler = CourierScheduler(app, Producer=lambda *args, **kwargs: producer)
    monkeypatch.setattr(scheduler, "_ensure_connected", lambda: None)
    return scheduler


def test_a_starting_beat_sends_each_jobs_last_period_to_its_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = Producer(), Producer()
    for producer in (first, second):  # two Beats at once: the same messages
        scheduler = _scheduler(producer, monkeypatch)
        for _ in range(4):
            scheduler.tick()
    assert len(first.published) == 2  # signup-digest and retention, once each
    assert [m["headers"]["id"] for m in first.published] == [
        m["headers"]["id"] for m in second.published
    ]
    for message in first.published:
        # The worker's own queue, through the default exchange, confirmed and persistent.
        assert (message["exchange"], message["routing_key"]) == ("", BULK.name)
        assert message["mandatory"] is True
        assert message["delivery_mode"] == 2
        envelope = decode(message["body"], message["headers"])
        assert isinstance(envelope.payload, SchedulePeriodEnded)
        assert envelope.payload.period_end <= datetime.now(UTC)
    assert get_settings().WORKER_HEARTBEAT_FILE.exists()  # Beat's liveness


def _deliver(envelope: Envelope[Any]) -> Any:
    task = app.tasks[envelope.event_type]
    kwargs = {"event": envelope.model_dump(mode="json")}
    return task.apply(kwargs=kwargs, task_id=str(envelope.event_id)).get()


@pytest.fixture
def staff(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DIGEST_RECIPIENTS", "ops@example.com, boss@example.com")
    get_settings.cache_clear()
    bootstrap.reset()
    return get_settings().MAIL_DIR


def _mails(folder: Path) -> list[Any]:
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def _subjects(folder: Path) -> list[str]:
    return sorted(" ".join(str(m["Subject"]).split()) for m in _mails(folder))


def test_the_digest_counts_the_periods_sign_ups_and_is_sent_once(staff: Path) -> None:
    for user_id in (1, 2, 3):
        registered = new_envelope(
            UserRegistered(user_id=user_id, email=f"u{user_id}@example.com"),
            producer="web",
            correlation_id="req-1",
        )
        assert _deliver(registered) == "handled"
    now = datetime.now(UTC)
    digest = period_ended(SIGNUP_DIGEST, 3600, now + timedelta(hours=1))  # this hour
    assert digest.payload.period_start <= now < digest.payload.period_end

    assert _deliver(digest) == "handled"
    assert _deliver(digest) == "duplicate"  # a second Beat's copy, or a redelivery

    [mail] = [m for m in _mails(staff) if m["Message-ID"] == f"<{digest.event_id}@courier.invalid>"]
    assert mail["To"] == "ops@example.com, boss@example.com"
    assert " ".join(str(mail["Subject"]).split()).startswith("Courier sign-ups: 3 (")
    earlier = period_ended(SIGNUP_DIGEST, 3600, now)  # the hour before: nobody
    assert _deliver(earlier) == "handled"
    counts = [s.split(" (")[0] for s in _subjects(staff) if "sign-ups" in s]
    assert counts == ["Courier sign-ups: 0", "Courier sign-ups: 3"]


def test_no_recipients_no_digest(worker_home: Path) -> None:
    assert _deliver(period_ended(SIGNUP_DIGEST, 60, datetime.now(UTC))) == "handled"
    assert _mails(get_settings().MAIL_DIR) == []


def test_retention_prunes_old_records_inside_its_own_claim_on_sqlite(worker_home: Path) -> None:
    # On SQLite the job's claim holds the file's write lock: the prune must run
    # in that same transaction, or it would wait for itself until it timed out.
    settings = get_settings()
    store = bootstrap.make_store(settings)
    old, recent = uuid.uuid4(), uuid.uuid4()
    long_ago = datetime.now(UTC) - timedelta(days=settings.RETENTION_HANDLED_EVENTS_DAYS + 1)
    with store.engine.begin() as conn:
        conn.execute(
            insert(handled_events),
            [
                {"event_id": old, "event_type": "user.registered.v1", "handled_at": long_ago},
                {
                    "event_id": recent,
                    "event_type": "user.registered.v1",
                    "handled_at": datetime.now(UTC),
                },
            ],
        )
    trail = make_audit_trail(settings)
    trail.create_schema()

    job = period_ended(RETENTION, 60, datetime.now(UTC))
    assert _deliver(job) == "handled"

    with store.engine.connect() as conn:
        kept = set(conn.execute(select(handled_events.c.event_id)).scalars())
    assert old not in kept
    assert {recent, job.event_id} <= kept
    store.engine.dispose()
    trail.engine.dispose()


def test_an_unknown_job_is_dead_lettered(worker_home: Path) -> None:
    fakes_dead: list[Any] = []

    class DeadLetters:
        def publish(self, letter: Any) -> None:
            fakes_dead.append(letter)

    container = bootstrap.get_container(app)
    bootstrap.install(
        bootstrap.Container(
            settings=container.settings,
            store=container.store,
            guard=container.guard,
            deps=container.deps,
            dead_letters=DeadLetters(),
            retries=container.retries,
            retry_policy=container.retry_policy,
        )
    )
    stray = period_ended("spring-cleaning", 60, datetime.now(UTC))
    assert _deliver(stray) == "dead-lettered"
    [letter] = fakes_dead
    assert "spring-cleaning" in (letter.detail or "")
