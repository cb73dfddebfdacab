"""The worker's scheduled jobs: which, how often, and the event that says one is due.

Celery Beat (``courier_worker.beat``) runs the schedule; the jobs run in the
workers, as handlers of ``schedule.period_ended.v1`` (``handlers/schedule.py``).
Beat has no leader election of its own: two Beats (one started by mistake,
or old and new during a rolling deploy) both send every due job. So a job's
period is aligned on the Unix epoch (both Beats agree on it whenever they
tick) and its event id is derived from the job and the period: the second
copy carries the same id, and the worker's idempotency store, which records
each event id once (claimed in the worker's database before the job acts),
turns it away. A job therefore runs once per period however many Beats send
it, and a redelivered copy is turned away the same way.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import schedules
from shared_contracts import Envelope, new_envelope
from shared_contracts.events.schedule import SchedulePeriodEnded

from courier_worker.settings import Settings

#: The sign-up digest emailed to staff (``DIGEST_RECIPIENTS``).
SIGNUP_DIGEST = "signup-digest"
#: Pruning of the records kept past their retention (``RETENTION_*_DAYS``).
RETENTION = "retention"
#: The producer name Beat's events carry.
PRODUCER = "worker-beat"
#: Event ids of scheduled periods: uuid5 in this namespace of ``job/period start``.
PERIOD_NAMESPACE = uuid.UUID("5d7c3f2e-4b1a-5c8e-9f60-2a7d1e0b9c44")


@dataclass(frozen=True)
class Period:
    """``[start, end)``, one of the job's periods."""

    start: datetime
    end: datetime


def period_ended_by(now: datetime, seconds: int) -> Period:
    """The last whole period of ``seconds`` that ended at or before ``now`` (UTC, epoch-aligned)."""
    end = math.floor(_utc(now).timestamp() / seconds) * seconds
    return Period(
        start=datetime.fromtimestamp(end - seconds, UTC), end=datetime.fromtimestamp(end, UTC)
    )


def period_event_id(job: str, period: Period) -> uuid.UUID:
    """The same id for the same job and period, whichever Beat computes it."""
    return uuid.uuid5(PERIOD_NAMESPACE, f"{job}/{period.start.isoformat()}")


def period_ended(job: str, seconds: int, now: datetime) -> Envelope[SchedulePeriodEnded]:
    """The event saying that ``job``'s period ended by ``now`` is due."""
    period = period_ended_by(now, seconds)
    event_id = period_event_id(job, period)
    return new_envelope(
        SchedulePeriodEnded(job=job, period_start=period.start, period_end=period.end),
        producer=PRODUCER,
        # Nothing requested it: the job and its period say where it comes from.
        correlation_id=f"schedule:{job}:{int(period.start.timestamp())}",
        event_id=event_id,
        occurred_at=period.end,
    )


class EveryPeriod(schedules.BaseSchedule):
    """Due once per period of ``seconds``, just after each boundary of the Unix epoch.

    Unlike Celery's ``schedule(run_every=...)``, which counts from each Beat's
    last run, every Beat is due at the same instants: two of them send the
    same periods, never neighbouring ones.
    """

    def __init__(self, seconds: int, nowfun: Callable[[], datetime] | None = None) -> None:
        if seconds < 1:
            raise ValueError("a period is at least one second")
        super().__init__(nowfun=nowfun or (lambda: datetime.now(UTC)))
        self.seconds = seconds

    def _index(self, moment: datetime) -> int:
        return math.floor(_utc(moment).timestamp() / self.seconds)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        next_start = (self._index(last_run_at) + 1) * self.seconds
        return timedelta(seconds=next_start - _utc(self.now()).timestamp())

    def is_due(self, last_run_at: datetime) -> schedules.schedstate:
        now = _utc(self.now())
        due = self._index(now) > self._index(last_run_at)
        next_start = (self._index(now) + 1) * self.seconds
        return schedules.schedstate(due, max(next_start - now.timestamp(), 0.01))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EveryPeriod) and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash((EveryPeriod, self.seconds))

    def __repr__(self) -> str:
        return f"<every {self.seconds}s, epoch-aligned>"

    def __reduce__(self) -> Any:
        return (self.__class__, (self.seconds,))


def jobs(settings: Settings) -> dict[str, int]:
    """Each scheduled job that is on, with its period in seconds."""
    configured = {
        SIGNUP_DIGEST: settings.SCHEDULE_SIGNUP_DIGEST_SECONDS,
        RETENTION: settings.SCHEDULE_RETENTION_SECONDS,
    }
    return {job: seconds for job, seconds in configured.items() if seconds}


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``: one entry per job, named after it."""
    return {
        job: {"task": SchedulePeriodEnded.event_type, "schedule": EveryPeriod(seconds)}
        for job, seconds in jobs(settings).items()
    }


def _utc(moment: datetime) -> datetime:
    # Celery hands naive UTC datetimes to schedules in places; ours are aware.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
