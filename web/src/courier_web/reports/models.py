"""A report a user asked for, and what became of it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from courier_web.outbox.guard import EventedManager


class Report(models.Model):
    class Kind(models.TextChoices):
        SIGNUPS = "signups"

    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Deleting the account deletes its reports (no personal data outlives it).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    date_from = models.DateField()
    date_to = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(max_length=512, blank=True, default="")
    row_count = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    reason = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Its creation emits report.requested.v1: bulk writes must go the evented way.
    objects = EventedManager["Report"]()

    class Meta:
        db_table = "reports_report"
        indexes = [models.Index(fields=["requested_by", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} report {self.id} ({self.status})"
