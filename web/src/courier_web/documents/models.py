"""An uploaded document, and what the worker found in it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from courier_web.outbox.guard import EventedManager


class Document(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSED = "processed"
        FAILED = "failed"

    #: The reason of a document the worker did not answer for in time.
    TIMEOUT = "timeout"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Deleting the account deletes its documents' records (the files are left to
    # the storage's lifecycle rules).
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="documents"
    )
    filename = models.CharField(max_length=255, blank=True, default="")
    reference = models.CharField(max_length=512)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    #: The worker's summary (rows, columns, invalid lines) once processed.
    summary = models.JSONField(null=True, blank=True)
    reason = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Its creation emits document.uploaded.v1: bulk writes must go the evented way.
    objects = EventedManager["Document"]()

    class Meta:
        db_table = "documents_document"
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"document {self.id} ({self.status})"
