"""Celery Beat's scheduler: ``celery -A courier_worker.celery_app:app beat`` (the app names it).

Each due job is sent as a ``schedule.period_ended.v1`` event in the contracts'
wire format (``shared_contracts.encode``), with the id of its job and period
(``schedule.period_event_id``), straight to the queue its handler is declared
on, through the default exchange, as the worker's retries are: the worker's
broker user may not publish to ``courier.events``, and no other service is
meant to see the worker's own schedule. Publisher confirms are on (the app's
``confirm_publish``), so a job is sent or its failure is logged.

No state is kept between runs (no ``celerybeat-schedule`` file: the image's
file system is read-only): a starting Beat sends each job's last ended period
at once, which the worker turns away as a duplicate if it was handled, and
which catches up a period missed while no Beat ran. It also touches the
heartbeat file on each tick, so that ``courier-worker healthcheck`` serves
as its liveness probe too.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from celery import beat
from shared_contracts import encode
from shared_contracts.events.schedule import SchedulePeriodEnded

from courier_worker import heartbeat
from courier_worker.schedule import EveryPeriod, period_ended
from courier_worker.settings import get_settings
from courier_worker.topology import spec_for

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class Sent:
    """What ``apply_async`` returns: Beat logs the id of what it sent."""

    id: str


class CourierScheduler(beat.Scheduler):
    """Sends each job's ended period as an event with an id of its own (see module doc)."""

    def install_default_entries(self, data: Any) -> None:
        # Celery would add its result-backend cleanup; the worker keeps no results.
        return None

    def setup_schedule(self) -> None:
        super().setup_schedule()
        now = datetime.now(UTC)
        for entry in self.schedule.values():
            if isinstance(entry.schedule, EveryPeriod):
                # As if it last ran one period ago: due now, for the period that ended last.
                entry.last_run_at = now - timedelta(seconds=entry.schedule.seconds)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        heartbeat.beat(get_settings().WORKER_HEARTBEAT_FILE)
        return float(super().tick(*args, **kwargs))

    def apply_async(
        self, entry: beat.ScheduleEntry, producer: Any = None, advance: bool = True, **_: Any
    ) -> Sent:
        if advance:
            entry = cast(beat.ScheduleEntry, self.reserve(entry))
        if (
            entry.name is None
            or entry.task != SchedulePeriodEnded.event_type
            or not isinstance(entry.schedule, EveryPeriod)
        ):
            raise beat.SchedulingError(
                f"{entry.name}: every scheduled job is a {SchedulePeriodEnded.event_type} "
                "entry with an EveryPeriod schedule (courier_worker.schedule.beat_schedule)"
            )
        envelope = period_ended(entry.name, entry.schedule.seconds, datetime.now(UTC))
        queue = spec_for(envelope.event_type)
        if queue is None:
            raise beat.SchedulingError(f"no handler is declared for {envelope.event_type}")
        wire = encode(envelope, origin="courier-beat")
        (producer or self.producer).publish(
            wire.body,
            exchange="",
            routing_key=queue.name,
            mandatory=True,
            retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
            **wire.amqp_properties(),
        )
        payload = envelope.payload
        log.info(
            "schedule.sent",
            job=entry.name,
            period_start=payload.period_start.isoformat(),
            period_end=payload.period_end.isoformat(),
            event_id=str(envelope.event_id),
            queue=queue.name,
        )
        return Sent(id=str(envelope.event_id))
