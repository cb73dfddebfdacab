"""What the web does with the worker's answers about reports (``consume_events``).

The first answer about a report settles it; a later one (a redelivery, or a
result after the report was already settled) changes nothing and is logged.
"""

from __future__ import annotations

import uuid

import structlog
from django.utils import timezone
from shared_contracts import Envelope
from shared_contracts.events.reports import ReportCompleted, ReportFailed

from courier_web.consumer import consumes
from courier_web.reports.models import Report

log = structlog.get_logger(__name__)


def _pending(report_id: uuid.UUID) -> Report | None:
    report = Report.objects.select_for_update().filter(pk=report_id).first()
    if report is None:
        # Deleted with its account meanwhile: nothing left to settle.
        log.info("report.result_for_unknown_report", report_id=str(report_id))
        return None
    if report.status != Report.Status.PENDING:
        log.info("report.result_ignored", report_id=str(report.pk), status=report.status)
        return None
    return report


@consumes(ReportCompleted)
def report_completed(envelope: Envelope[ReportCompleted]) -> None:
    result = envelope.payload
    report = _pending(result.report_id)
    if report is None:
        return
    report.status = Report.Status.COMPLETED
    report.reference = result.reference
    report.row_count = result.row_count
    report.size_bytes = result.size_bytes
    report.sha256 = result.sha256
    report.finished_at = timezone.now()
    report.save()
    log.info("report.completed", report_id=str(report.pk), rows=result.row_count)


@consumes(ReportFailed)
def report_failed(envelope: Envelope[ReportFailed]) -> None:
    result = envelope.payload
    report = _pending(result.report_id)
    if report is None:
        return
    report.status = Report.Status.FAILED
    report.reason = result.reason
    report.finished_at = timezone.now()
    report.save()
    log.info("report.failed", report_id=str(report.pk), reason=result.reason)
