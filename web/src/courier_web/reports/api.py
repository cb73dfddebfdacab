"""The reports HTTP interface: ask for a report, follow it, download it.

A report is for whoever asked for it, and for staff; anyone else gets the
same 404 as for a missing id.
"""

from __future__ import annotations

import uuid

import structlog
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router, Status

from courier_web.api.errors import ApiError, ErrorOut
from courier_web.reports.download import ChecksumMismatch, chunks, verify
from courier_web.reports.models import Report
from courier_web.reports.schemas import ReportAcceptedOut, ReportCreateIn, ReportOut
from courier_web.reports.selectors import report_get_for
from courier_web.reports.services import report_request
from courier_web.shared_storage import StorageError, StorageUnavailable, shared_storage
from courier_web.users.auth import user_auth

log = structlog.get_logger(__name__)

router = Router(tags=["reports"], auth=user_auth)


@router.post(
    "",
    response={202: ReportAcceptedOut, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut},
    summary="Ask for a report",
    description=(
        'Body `{"kind": "signups", "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}` (UTC days, '
        "both included, at most 366 of them). The worker generates it in the background; "
        "follow it with `GET /api/reports/{id}`."
    ),
)
def create_report(request: HttpRequest, payload: ReportCreateIn) -> Status[ReportAcceptedOut]:
    report = report_request(
        requester=request.auth,  # type: ignore[attr-defined]
        kind=payload.kind,
        date_from=payload.date_from,
        date_to=payload.date_to,
    )
    return Status(202, ReportAcceptedOut(id=report.pk, status="pending"))


@router.get(
    "/{report_id}",
    response={200: ReportOut, 401: ErrorOut, 404: ErrorOut},
    by_alias=True,
    summary="A report's status, and its counts once completed",
)
def get_report(request: HttpRequest, report_id: uuid.UUID) -> ReportOut:
    report = _visible_report(request, report_id)
    completed = report.status == Report.Status.COMPLETED
    return ReportOut(
        id=report.pk,
        kind=report.kind,
        date_from=report.date_from,
        date_to=report.date_to,
        status=report.status,  # type: ignore[arg-type]
        row_count=report.row_count if completed else None,
        size_bytes=report.size_bytes if completed else None,
        sha256=report.sha256 if completed else None,
        reason=report.reason or None,
        created_at=report.created_at,
        finished_at=report.finished_at,
    )


@router.get(
    "/{report_id}/download",
    response={200: None, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 500: ErrorOut},
    summary="Download a completed report (CSV)",
    description=(
        "Streams the CSV once its SHA-256 and size match what the worker reported; "
        "409 while the report is pending or when it failed."
    ),
)
def download_report(request: HttpRequest, report_id: uuid.UUID) -> StreamingHttpResponse:
    report = _visible_report(request, report_id)
    if report.status != Report.Status.COMPLETED:
        raise ApiError(409, "not_ready", f"the report is {report.status}, not completed")
    storage = shared_storage()
    try:
        verify(storage, report.reference, sha256=report.sha256, size_bytes=report.size_bytes or 0)
    except StorageUnavailable:
        raise ApiError(503, "storage_unavailable", "the storage does not answer; retry") from None
    except (ChecksumMismatch, StorageError) as exc:
        log.error("report.download_refused", report_id=str(report.pk), error=str(exc))
        raise ApiError(
            500, "integrity_error", "the stored report does not match its checksum"
        ) from None
    response = StreamingHttpResponse(chunks(storage, report.reference), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="report-{report.pk}.csv"'
    response["Content-Length"] = str(report.size_bytes)
    response["Digest"] = f"sha-256={report.sha256}"
    response["X-Checksum-SHA256"] = report.sha256
    return response


def _visible_report(request: HttpRequest, report_id: uuid.UUID) -> Report:
    report = report_get_for(actor=request.auth, report_id=report_id)  # type: ignore[attr-defined]
    if report is None:
        raise ApiError(404, "not_found", f"no report with id {report_id}")
    return report
