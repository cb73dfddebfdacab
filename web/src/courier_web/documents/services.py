"""Uploading a document, and giving up on one the worker never answered for."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from courier_web.documents.models import Document
from courier_web.shared_storage import shared_storage
from courier_web.users.models import User

log = structlog.get_logger(__name__)


class DocumentTooLarge(Exception):
    """The file is larger than ``DOCUMENT_MAX_BYTES``."""


def document_upload(*, uploader: User, upload: File[bytes]) -> Document:
    """Store the file, then record the document; document.uploaded.v1 goes out on commit.

    The file is copied chunk by chunk, hashed and counted on the way, and
    refused (``DocumentTooLarge``) as soon as it passes ``DOCUMENT_MAX_BYTES``.
    """
    limit = settings.DOCUMENT_MAX_BYTES
    document_id = uuid.uuid4()
    reference = f"documents/{document_id}.csv"
    digest = hashlib.sha256()
    size = 0
    with shared_storage().writer(reference) as out:
        for chunk in upload.chunks():
            size += len(chunk)
            if size > limit:
                raise DocumentTooLarge(f"the document is larger than {limit} bytes")
            digest.update(chunk)
            out.write(chunk)
    with transaction.atomic():
        return Document.objects.create(
            id=document_id,
            uploaded_by=uploader,
            filename=(upload.name or "")[:255],
            reference=reference,
            size_bytes=size,
            sha256=digest.hexdigest(),
        )


def documents_expire(*, now: datetime | None = None) -> int:
    """Mark failed (reason ``timeout``) each document pending past ``DOCUMENT_DEADLINE_SECONDS``.

    Returns how many. A result that arrives later is ignored (``results.py``).
    """
    now = now or timezone.now()
    deadline = now - timedelta(seconds=settings.DOCUMENT_DEADLINE_SECONDS)
    expired = 0
    overdue = Document.objects.filter(status=Document.Status.PENDING, created_at__lt=deadline)
    for document_id in overdue.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            document = (
                Document.objects.select_for_update()
                .filter(pk=document_id, status=Document.Status.PENDING)
                .first()
            )
            if document is None:
                continue  # settled meanwhile
            document.status = Document.Status.FAILED
            document.reason = Document.TIMEOUT
            document.finished_at = now
            document.save(update_fields=["status", "reason", "finished_at"])
            expired += 1
            log.warning("document.timed_out", document_id=str(document.pk))
    return expired
