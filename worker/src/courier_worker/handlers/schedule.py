"""Handlers for the schedule: run the job whose period ended (``courier_worker.jobs``)."""

from __future__ import annotations

from typing import cast

from shared_contracts import Envelope
from shared_contracts.events.schedule import SchedulePeriodEnded

from courier_worker.handlers.base import Dependencies
from courier_worker.handlers.registry import handles
from courier_worker.queues import BULK


@handles(SchedulePeriodEnded, queue=BULK)
def run_scheduled_job(envelope: Envelope[SchedulePeriodEnded], deps: Dependencies) -> None:
    """Run the job once per period: the event id is the job's and period's (``schedule.py``)."""
    # Imported here: the composition root imports the handlers package.
    from courier_worker.audit_store import audit_trail
    from courier_worker.bootstrap import running_container
    from courier_worker.jobs import HandledRecords, JobContext, Prunable, run_job

    container = running_container()
    settings = container.settings
    context = JobContext(
        records=cast(HandledRecords, container.store),
        audit=cast(Prunable, audit_trail()),
        mailer=deps.mailer,
        mail_from=deps.mail_from,
        digest_recipients=settings.DIGEST_RECIPIENTS,
        handled_events_days=settings.RETENTION_HANDLED_EVENTS_DAYS,
        audit_days=settings.RETENTION_AUDIT_DAYS,
    )
    run_job(envelope, context)
