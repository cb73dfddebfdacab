"""Reads of documents: a document is visible to whoever uploaded it, and to staff."""

from __future__ import annotations

import uuid

from courier_web.documents.models import Document
from courier_web.users.models import User


def document_get_for(*, actor: User, document_id: uuid.UUID) -> Document | None:
    """The document if ``actor`` may see it, else None (alike for a missing id)."""
    documents = Document.objects.all()
    if not actor.is_staff:
        documents = documents.filter(uploaded_by=actor)
    return documents.filter(pk=document_id).first()
