"""What the web does with the worker's answers about documents (``consume_events``).

The first answer settles a document. One that comes after it was settled
(a redelivery, or a result after the web gave up waiting: ``timeout``)
changes nothing and is logged.
"""

from __future__ import annotations

import uuid

import structlog
from django.utils import timezone
from shared_contracts import Envelope
from shared_contracts.events.documents import DocumentFailed, DocumentProcessed

from courier_web.consumer import consumes, every
from courier_web.documents.models import Document
from courier_web.documents.services import documents_expire

log = structlog.get_logger(__name__)


def _pending(document_id: uuid.UUID, event_type: str) -> Document | None:
    document = Document.objects.select_for_update().filter(pk=document_id).first()
    if document is None:
        log.info("document.result_for_unknown_document", document_id=str(document_id))
        return None
    if document.status != Document.Status.PENDING:
        log.warning(
            "document.late_result_ignored",
            document_id=str(document.pk),
            status=document.status,
            reason=document.reason,
            result=event_type,
        )
        return None
    return document


@consumes(DocumentProcessed)
def document_processed(envelope: Envelope[DocumentProcessed]) -> None:
    result = envelope.payload
    document = _pending(result.document_id, envelope.event_type)
    if document is None:
        return
    document.status = Document.Status.PROCESSED
    document.summary = result.model_dump(mode="json", exclude={"document_id"})
    document.finished_at = timezone.now()
    document.save(update_fields=["status", "summary", "finished_at"])
    log.info("document.processed", document_id=str(document.pk), rows=result.rows)


@consumes(DocumentFailed)
def document_failed(envelope: Envelope[DocumentFailed]) -> None:
    result = envelope.payload
    document = _pending(result.document_id, envelope.event_type)
    if document is None:
        return
    document.status = Document.Status.FAILED
    document.reason = result.reason
    document.finished_at = timezone.now()
    document.save(update_fields=["status", "reason", "finished_at"])
    log.info("document.failed", document_id=str(document.pk), reason=result.reason)


@every(seconds=15)
def expire_overdue_documents() -> None:
    """Give up on documents the worker has not answered for within the deadline."""
    documents_expire()
