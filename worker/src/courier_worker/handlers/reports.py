"""Handlers for reports: generate the requested file from the read model, store it, say so."""

from __future__ import annotations

import structlog
from shared_contracts import Envelope
from shared_contracts.events.reports import (
    MAX_REPORT_DAYS,
    ReportCompleted,
    ReportFailed,
    ReportRequested,
)

from courier_worker.handlers.base import Dependencies
from courier_worker.handlers.registry import handles
from courier_worker.queues import BULK
from courier_worker.read_model import user_directory
from courier_worker.report_csv import write_signups
from courier_worker.results import publishes, result_envelope

log = structlog.get_logger(__name__)

publishes(ReportCompleted, ReportFailed, on=ReportRequested)


def report_reference(envelope: Envelope[ReportRequested]) -> str:
    """Where a report's file is stored: named after the report, so a rerun replaces it."""
    return f"reports/{envelope.payload.report_id}.csv"


@handles(ReportRequested, queue=BULK, transient=(OSError,))
def generate_report(envelope: Envelope[ReportRequested], deps: Dependencies) -> None:
    """Write the report's CSV to the shared storage, then emit report.completed.v1.

    A request the worker cannot serve (a range the web should have refused)
    ends in report.failed.v1; a storage that is away is retried.
    """
    request = envelope.payload
    results = deps.result_publisher()
    problem = range_problem(request)
    if problem is not None:
        failed = ReportFailed(report_id=request.report_id, reason=problem)
        results.publish(result_envelope(failed, cause=envelope))
        log.warning("report.failed", report_id=str(request.report_id), reason=problem)
        return
    reference = report_reference(envelope)
    users = user_directory().signups(request.date_from, request.date_to)
    with deps.shared_storage().writer(reference) as out:
        written = write_signups(users, out)
    completed = ReportCompleted(
        report_id=request.report_id,
        reference=reference,
        row_count=written.row_count,
        size_bytes=written.size_bytes,
        sha256=written.sha256,
    )
    results.publish(result_envelope(completed, cause=envelope))
    log.info(
        "report.completed",
        report_id=str(request.report_id),
        rows=written.row_count,
        size_bytes=written.size_bytes,
    )


def range_problem(request: ReportRequested) -> str | None:
    """Why the report's range cannot be served, or None."""
    if request.date_from > request.date_to:
        return "the range starts after it ends"
    if (request.date_to - request.date_from).days + 1 > MAX_REPORT_DAYS:
        return f"the range covers more than {MAX_REPORT_DAYS} days"
    return None
