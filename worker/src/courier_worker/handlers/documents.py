"""Handlers for documents: summarise an uploaded CSV, streaming, and say what it holds."""

from __future__ import annotations

import structlog
from shared_contracts import Envelope
from shared_contracts.events.documents import (
    ColumnSummary,
    DocumentFailed,
    DocumentProcessed,
    DocumentUploaded,
    InvalidLine,
)

from courier_worker.document_summary import DocumentRejected, Summary, summarise
from courier_worker.handlers.base import Dependencies
from courier_worker.handlers.registry import handles
from courier_worker.queues import BULK
from courier_worker.results import publishes, result_envelope

log = structlog.get_logger(__name__)

publishes(DocumentProcessed, DocumentFailed, on=DocumentUploaded)


@handles(DocumentUploaded, queue=BULK, transient=(OSError,))
def summarise_document(envelope: Envelope[DocumentUploaded], deps: Dependencies) -> None:
    """Read the document from the shared storage and emit its summary, or why it has none.

    A document that cannot be read as CSV fails with the reason; a storage
    that is away (``OSError``) is retried.
    """
    upload = envelope.payload
    results = deps.result_publisher()
    try:
        with deps.shared_storage().reader(upload.reference) as stream:
            summary = summarise(stream)
    except DocumentRejected as exc:
        failed = DocumentFailed(document_id=upload.document_id, reason=str(exc)[:1000])
        results.publish(result_envelope(failed, cause=envelope))
        log.info("document.failed", document_id=str(upload.document_id), reason=str(exc))
        return
    results.publish(result_envelope(processed(upload, summary), cause=envelope))
    log.info(
        "document.processed",
        document_id=str(upload.document_id),
        rows=summary.rows,
        invalid_lines=summary.invalid_line_count,
    )


def processed(upload: DocumentUploaded, summary: Summary) -> DocumentProcessed:
    return DocumentProcessed(
        document_id=upload.document_id,
        rows=summary.rows,
        columns=tuple(
            ColumnSummary(name=column.name, type=column.type or "text", nulls=column.nulls)
            for column in summary.columns
        ),
        invalid_line_count=summary.invalid_line_count,
        invalid_lines=tuple(
            InvalidLine(line=line, reason=reason) for line, reason in summary.invalid_lines
        ),
    )
