"""Events of the schedule: a period of a scheduled job ended, so the job is due for it."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field
from shared_contracts.events.base import Event

#: A scheduled job's name: lower case words joined by dashes (``signup-digest``).
JobName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)]


class SchedulePeriodEnded(Event):
    """A period of a scheduled job ended: the job is due for it.

    Emitted: by the worker's scheduler (Celery Beat) at the start of each
    period of the job, for the period that just ended, and again for the
    last one when a scheduler starts. Two schedulers running at once (by
    mistake, or while a deploy replaces one) emit it twice: the event id is
    derived from ``job`` and ``period_start``, so consumers, which act once
    per event id, act once per period.
    Key field: ``job`` with ``period_start``. The period is
    ``[period_start, period_end)``, aligned on multiples of its length since
    the Unix epoch (a daily job's periods are UTC days).
    """

    event_type: ClassVar[str] = "schedule.period_ended.v1"
    schema_version: ClassVar[int] = 1

    job: JobName
    period_start: AwareDatetime
    period_end: AwareDatetime
