"""Reads of reports: a report is visible to whoever asked for it, and to staff."""

from __future__ import annotations

import uuid

from courier_web.reports.models import Report
from courier_web.users.models import User


def report_get_for(*, actor: User, report_id: uuid.UUID) -> Report | None:
    """The report if ``actor`` may see it, else None (alike for a missing id)."""
    reports = Report.objects.all()
    if not actor.is_staff:
        reports = reports.filter(requested_by=actor)
    return reports.filter(pk=report_id).first()
