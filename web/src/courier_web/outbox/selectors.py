"""Reads of the outbox."""

from __future__ import annotations

import uuid

from courier_web.outbox.models import OutboxMessage, OutboxStatus


def outbox_get(*, event_id: uuid.UUID) -> OutboxMessage | None:
    return OutboxMessage.objects.filter(event_id=event_id).first()


def outbox_pending_count() -> int:
    return OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count()
