"""One row per event to publish, written in the transaction that caused it."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"


class OutboxMessage(models.Model):
    """An encoded event waiting for (or done with) its broker confirm."""

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=128)
    correlation_id = models.CharField(max_length=128)
    exchange = models.CharField(max_length=255)
    routing_key = models.CharField(max_length=255)
    headers = models.JSONField()
    #: AMQP basic properties (content type, delivery mode, message id...).
    properties = models.JSONField()
    #: The exact body ``shared_contracts.encode`` produced (ASCII JSON).
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            # The relay's query: pending rows, oldest first. Partial, so it
            # stays small however many sent rows accumulate.
            models.Index(
                fields=["created_at", "id"],
                condition=Q(status="pending"),
                name="outbox_pending_idx",
            ),
            # Failed rows: few, read by `outbox status`, replay and /metrics.
            models.Index(
                fields=["created_at", "id"],
                condition=Q(status="failed"),
                name="outbox_failed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"
