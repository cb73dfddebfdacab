"""The event a report request emits (imported by the outbox app).

``report.requested.v1``: when a report row is created, in its transaction.
"""

from __future__ import annotations

from django.db.models.signals import post_save
from shared_contracts.events.reports import ReportRequested

from courier_web.outbox import emits
from courier_web.reports.models import Report

emits(
    ReportRequested,
    on=post_save,
    sender=Report,
    when=lambda report, created, **_: created,
    build=lambda report, **_: ReportRequested(
        report_id=report.pk,
        kind=report.kind,
        date_from=report.date_from,
        date_to=report.date_to,
        requested_by=report.requested_by_id,
    ),
)
