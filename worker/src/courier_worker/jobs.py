"""The scheduled jobs themselves: what runs when Beat says a period ended (``schedule.py``).

Each is a plain function of the ended period's event and the ports it uses,
run by the ``schedule.period_ended.v1`` handler inside the idempotency
guard's claim of that event id: once per job and period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

import structlog
from shared_contracts import Envelope, UserRegistered
from shared_contracts.events.schedule import SchedulePeriodEnded

from courier_worker.mail import Mailer
from courier_worker.schedule import RETENTION, SIGNUP_DIGEST

log = structlog.get_logger(__name__)

MESSAGE_ID_DOMAIN = "courier.invalid"


class HandledRecords(Protocol):
    """The idempotency store, as the jobs read and prune it."""

    def count_handled(self, event_type: str, start: datetime, end: datetime) -> int: ...

    def prune(self, before: datetime) -> int: ...


class Prunable(Protocol):
    """Records kept for a while (the audit trail): ``prune`` forgets the older ones."""

    def prune(self, before: datetime) -> int: ...


@dataclass(frozen=True)
class JobContext:
    """What a job may use: the ports, and the settings it reads."""

    records: HandledRecords
    audit: Prunable
    mailer: Mailer
    mail_from: str
    digest_recipients: tuple[str, ...]
    handled_events_days: int
    audit_days: int


class UnknownJob(LookupError):
    """An event names a job this worker does not have (permanent: dead-lettered)."""


def signup_digest(envelope: Envelope[SchedulePeriodEnded], ctx: JobContext) -> None:
    """Email staff how many people signed up in the period.

    Counted from the worker's own records of the ``user.registered`` events
    it handled (each welcome email sent is one), by when it handled them:
    every sign-up is in exactly one period's digest.
    """
    period = envelope.payload
    if not ctx.digest_recipients:
        log.info("digest.skipped", reason="DIGEST_RECIPIENTS is empty")
        return
    count = ctx.records.count_handled(
        UserRegistered.event_type, period.period_start, period.period_end
    )
    ctx.mailer.send(digest_email(envelope, count, ctx))
    log.info(
        "digest.sent",
        signups=count,
        recipients=len(ctx.digest_recipients),
        period_start=period.period_start.isoformat(),
    )


def digest_email(
    envelope: Envelope[SchedulePeriodEnded], count: int, ctx: JobContext
) -> EmailMessage:
    """The digest of one period; the same period always yields the same Message-ID."""
    period = envelope.payload
    start = period.period_start.strftime("%Y-%m-%d %H:%M:%S")
    end = period.period_end.strftime("%Y-%m-%d %H:%M:%S UTC")
    message = EmailMessage()
    message["From"] = ctx.mail_from
    message["To"] = ", ".join(ctx.digest_recipients)
    message["Subject"] = f"Courier sign-ups: {count} ({start} to {end})"
    message["Date"] = format_datetime(period.period_end)
    # From the event id, itself from job and period: a repeat is the same message.
    message["Message-ID"] = f"<{envelope.event_id}@{MESSAGE_ID_DOMAIN}>"
    message["X-Courier-Period-Start"] = period.period_start.isoformat()
    message.set_content(
        f"{count} new account{'' if count == 1 else 's'} from {start} to {end}.\n\n-- Courier\n"
    )
    return message


def retention(envelope: Envelope[SchedulePeriodEnded], ctx: JobContext) -> None:
    """Forget the handled-event records and audit entries older than their retention."""
    now = datetime.now(UTC)
    handled_before = now - timedelta(days=ctx.handled_events_days)
    audit_before = now - timedelta(days=ctx.audit_days)
    handled = ctx.records.prune(handled_before)
    audit = ctx.audit.prune(audit_before)
    log.info(
        "retention.pruned",
        handled_events=handled,
        handled_events_before=handled_before.isoformat(),
        audit_entries=audit,
        audit_entries_before=audit_before.isoformat(),
    )


JOBS: dict[str, Callable[[Envelope[SchedulePeriodEnded], JobContext], None]] = {
    SIGNUP_DIGEST: signup_digest,
    RETENTION: retention,
}


def run_job(envelope: Envelope[SchedulePeriodEnded], ctx: JobContext) -> None:
    """Run the job the event names."""
    job = JOBS.get(envelope.payload.job)
    if job is None:
        raise UnknownJob(f"no scheduled job {envelope.payload.job!r} (known: {sorted(JOBS)})")
    job(envelope, ctx)
