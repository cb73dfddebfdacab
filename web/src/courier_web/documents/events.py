"""The event an upload emits (imported by the outbox app).

``document.uploaded.v1``: when a document row is created (its file is already
in the storage), in its transaction.
"""

from __future__ import annotations

from django.db.models.signals import post_save
from shared_contracts.events.documents import DocumentUploaded

from courier_web.documents.models import Document
from courier_web.outbox import emits

emits(
    DocumentUploaded,
    on=post_save,
    sender=Document,
    when=lambda document, created, **_: created,
    build=lambda document, **_: DocumentUploaded(
        document_id=document.pk,
        reference=document.reference,
        size_bytes=document.size_bytes,
        sha256=document.sha256,
        uploaded_by=document.uploaded_by_id,
    ),
)
