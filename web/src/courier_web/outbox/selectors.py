"""Reads of the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Min
from django.utils import timezone

from courier_web.outbox.models import OutboxMessage, OutboxStatus


def outbox_get(*, event_id: uuid.UUID) -> OutboxMessage | None:
    return OutboxMessage.objects.filter(event_id=event_id).first()


def outbox_pending_count() -> int:
    return OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count()


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    #: Seconds since the oldest pending row was written; 0.0 when none is pending.
    oldest_pending_age_s: float
    failed: int


def outbox_stats() -> OutboxStats:
    """Three queries, each answered from a partial index (pending rows, failed rows)."""
    pending = OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    age = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest is not None else 0.0
    return OutboxStats(
        pending=pending.count(),
        oldest_pending_age_s=round(age, 3),
        failed=OutboxMessage.objects.filter(status=OutboxStatus.FAILED).count(),
    )


def outbox_failed_list(*, limit: int = 100) -> list[OutboxMessage]:
    """Failed rows, oldest first, with their reasons (``last_error``)."""
    return list(
        OutboxMessage.objects.filter(status=OutboxStatus.FAILED)
        .order_by("created_at", "pk")
        .only(
            "id", "event_id", "event_type", "correlation_id", "attempts", "last_error", "created_at"
        )[:limit]
    )
