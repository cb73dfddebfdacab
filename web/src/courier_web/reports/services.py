"""Asking for a report (its event is written by the declaration in ``events.py``)."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from shared_contracts.events.reports import MAX_REPORT_DAYS

from courier_web.reports.models import Report
from courier_web.users.models import User


def report_request(*, requester: User, kind: str, date_from: date, date_to: date) -> Report:
    """Record a pending report; report.requested.v1 goes out when the transaction commits.

    A range that starts after it ends, or covers more than ``MAX_REPORT_DAYS``
    days, is a ``ValidationError`` naming the field (a 422).
    """
    if date_from > date_to:
        raise ValidationError({"from": ["must not be after 'to'"]})
    if (date_to - date_from).days + 1 > MAX_REPORT_DAYS:
        raise ValidationError({"to": [f"the range covers at most {MAX_REPORT_DAYS} days"]})
    with transaction.atomic():
        return Report.objects.create(
            requested_by=requester, kind=kind, date_from=date_from, date_to=date_to
        )
