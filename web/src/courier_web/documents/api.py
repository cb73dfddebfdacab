"""The documents HTTP interface: upload a CSV, read what the worker found in it.

A document is for whoever uploaded it, and for staff; anyone else gets the
same 404 as for a missing id.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Router, Status
from ninja.files import UploadedFile

from courier_web.api.errors import ApiError, ErrorOut
from courier_web.documents.models import Document
from courier_web.documents.schemas import DocumentAcceptedOut, DocumentOut
from courier_web.documents.selectors import document_get_for
from courier_web.documents.services import DocumentTooLarge, document_upload, documents_expire
from courier_web.shared_storage import StorageUnavailable
from courier_web.users.auth import user_auth

router = Router(tags=["documents"], auth=user_auth)


@router.post(
    "",
    response={
        202: DocumentAcceptedOut,
        400: ErrorOut,
        401: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
    },
    summary="Upload a CSV document to be summarised",
    description=(
        "`multipart/form-data` with one file, `file`, at most `DOCUMENT_MAX_BYTES` "
        "(default 10 MiB; beyond it a 413, chunked bodies too). The worker reads it in "
        "the background; follow it with `GET /api/documents/{id}`."
    ),
)
def upload_document(request: HttpRequest, file: File[UploadedFile]) -> Status[DocumentAcceptedOut]:
    if len(request.FILES) != 1 or len(request.FILES.getlist("file")) != 1:
        raise ApiError(422, "validation_error", "send exactly one file, as the field 'file'")
    if file.size is not None and file.size > settings.DOCUMENT_MAX_BYTES:
        raise ApiError(413, "too_large", _too_large())
    try:
        document = document_upload(uploader=request.auth, upload=file)  # type: ignore[attr-defined]
    except DocumentTooLarge:
        raise ApiError(413, "too_large", _too_large()) from None
    except StorageUnavailable:
        raise ApiError(503, "storage_unavailable", "the storage does not answer; retry") from None
    return Status(202, DocumentAcceptedOut(id=document.pk, status="pending"))


@router.get(
    "/{document_id}",
    response={200: DocumentOut, 401: ErrorOut, 404: ErrorOut},
    summary="A document's status, with its summary once processed or its reason once failed",
)
def get_document(request: HttpRequest, document_id: uuid.UUID) -> DocumentOut:
    document = _visible_document(request, document_id)
    if document.status == Document.Status.PENDING and documents_expire():
        document.refresh_from_db()  # the deadline passed: answer with the timeout now
    return DocumentOut(
        id=document.pk,
        filename=document.filename,
        size_bytes=document.size_bytes,
        sha256=document.sha256,
        status=document.status,  # type: ignore[arg-type]
        summary=document.summary if document.status == Document.Status.PROCESSED else None,
        reason=document.reason or None,
        created_at=document.created_at,
        finished_at=document.finished_at,
    )


def _too_large() -> str:
    return f"the document is larger than {settings.DOCUMENT_MAX_BYTES} bytes"


def _visible_document(request: HttpRequest, document_id: uuid.UUID) -> Document:
    document = document_get_for(actor=request.auth, document_id=document_id)  # type: ignore[attr-defined]
    if document is None:
        raise ApiError(404, "not_found", f"no document with id {document_id}")
    return document
