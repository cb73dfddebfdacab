"""Writing events to the outbox and publishing its rows.

Rows are claimed inside a transaction: ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent relays (and the in-process publisher) never publish
the same row; on SQLite, whose transactions are ``IMMEDIATE``, they serialise.
A row is marked sent only after the broker's confirm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from shared_contracts import Event, WireMessage, encode, new_envelope

from courier_web.metrics.registry import (
    OUTBOX_PUBLISH_FAILED,
    OUTBOX_PUBLISHED,
    OUTBOX_RETURNED,
)
from courier_web.outbox.dispatch import dispatch_after_commit
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.publisher import Outcome, Publisher, PublishResult

PRODUCER = "courier-web"

log = structlog.get_logger(__name__)


def outbox_enqueue(event: Event, *, correlation_id: str) -> OutboxMessage:
    """Write ``event`` to the outbox in the current transaction; publish after commit.

    Call it inside the transaction that made the change: a rollback removes the
    row, and nothing is handed to the publisher before the commit.
    """
    envelope = new_envelope(event, producer=PRODUCER, correlation_id=correlation_id)
    wire = encode(envelope, origin=PRODUCER)
    row = OutboxMessage.objects.create(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        correlation_id=envelope.correlation_id,
        exchange=wire.exchange,
        routing_key=wire.routing_key,
        headers=dict(wire.headers),
        properties={
            "content_type": wire.content_type,
            "content_encoding": wire.content_encoding,
            "delivery_mode": wire.delivery_mode,
            "correlation_id": wire.correlation_id,
            "message_id": wire.message_id,
            **dict(wire.properties),
        },
        body=wire.body.decode("ascii"),
    )
    dispatch_after_commit(row.pk)
    return row


def wire_message(row: OutboxMessage) -> WireMessage:
    """Rebuild the exact message ``encode`` produced from its stored row."""
    props = dict(row.properties)
    return WireMessage(
        exchange=row.exchange,
        routing_key=row.routing_key,
        body=row.body.encode("ascii"),
        headers=row.headers,
        content_type=props.pop("content_type"),
        content_encoding=props.pop("content_encoding"),
        delivery_mode=props.pop("delivery_mode"),
        correlation_id=props.pop("correlation_id"),
        message_id=props.pop("message_id"),
        properties=props,
    )


@dataclass(frozen=True)
class BatchReport:
    """What one claimed batch came to."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    #: Set when the broker could not take a row: stop and back off.
    error: str | None = None


def outbox_publish_ids(*, ids: Sequence[int], publisher: Publisher) -> BatchReport:
    """Publish the given rows if they are still pending (the in-process path)."""
    queryset = OutboxMessage.objects.filter(pk__in=ids, status=OutboxStatus.PENDING).order_by("pk")
    return _publish_claimed(queryset, publisher=publisher, limit=len(ids))


def outbox_publish_batch(
    *, publisher: Publisher, limit: int, min_age: timedelta = timedelta(0)
) -> BatchReport:
    """Claim up to ``limit`` pending rows older than ``min_age`` and publish them (the relay)."""
    queryset = OutboxMessage.objects.filter(
        status=OutboxStatus.PENDING, created_at__lte=timezone.now() - min_age
    ).order_by("created_at", "pk")
    return _publish_claimed(queryset, publisher=publisher, limit=limit)


def _publish_claimed(
    queryset: QuerySet[OutboxMessage], *, publisher: Publisher, limit: int
) -> BatchReport:
    sent = failed = 0
    with transaction.atomic():
        # No effect on SQLite (the IMMEDIATE transaction already serialises).
        rows = list(queryset.select_for_update(skip_locked=True)[:limit])
        for row in rows:
            result = publisher.publish(wire_message(row))
            _record(row, result)
            if result.outcome is Outcome.CONFIRMED:
                sent += 1
            elif result.outcome is Outcome.RETURNED:
                failed += 1
            else:
                # The broker is away: the remaining rows wait for the next try.
                return BatchReport(len(rows), sent, failed, error=result.detail)
    return BatchReport(len(rows), sent, failed)


def _record(row: OutboxMessage, result: PublishResult) -> None:
    row.attempts += 1
    fields = ["attempts", "status", "last_error"]
    context = {
        "event_id": str(row.event_id),
        "event_type": row.event_type,
        "correlation_id": row.correlation_id,
        "attempts": row.attempts,
    }
    if result.outcome is Outcome.CONFIRMED:
        row.status, row.last_error, row.sent_at = OutboxStatus.SENT, "", timezone.now()
        fields.append("sent_at")
        OUTBOX_PUBLISHED.labels(row.event_type).inc()
        log.info("outbox.published", **context)
    elif result.outcome is Outcome.RETURNED:
        row.status, row.last_error = OutboxStatus.FAILED, result.detail
        OUTBOX_RETURNED.labels(row.event_type).inc()
        log.error("outbox.unroutable", reason=result.detail, **context)
    else:
        row.last_error = result.detail
        OUTBOX_PUBLISH_FAILED.labels(row.event_type).inc()
        log.debug("outbox.publish_failed", reason=result.detail, **context)
    row.save(update_fields=fields)
