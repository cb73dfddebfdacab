"""Operator actions on the outbox: replay failed rows, prune old sent ones."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from courier_web.outbox.models import OutboxMessage, OutboxStatus

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReplayReport:
    replayed: list[str]
    #: Asked-for event ids that are not failed rows (unknown, pending or sent).
    skipped: list[str]


@transaction.atomic
def outbox_replay(*, event_ids: Sequence[uuid.UUID] = (), all_failed: bool = False) -> ReplayReport:
    """Turn failed rows back into pending ones (attempts reset) for the relay to publish.

    Only failed rows move: replaying a sent row would publish it twice.
    """
    if not all_failed and not event_ids:
        raise ValueError("name event ids, or ask for all failed rows")
    rows = OutboxMessage.objects.select_for_update().filter(status=OutboxStatus.FAILED)
    if not all_failed:
        rows = rows.filter(event_id__in=list(event_ids))
    chosen = list(rows.values_list("pk", "event_id", "event_type", "last_error"))
    OutboxMessage.objects.filter(pk__in=[pk for pk, *_ in chosen]).update(
        status=OutboxStatus.PENDING, attempts=0, last_error=""
    )
    for _, event_id, event_type, last_error in chosen:
        log.info(
            "outbox.replayed",
            event_id=str(event_id),
            event_type=event_type,
            previous_error=last_error[:300],
        )
    replayed = [str(event_id) for _, event_id, *_ in chosen]
    skipped = sorted({str(e) for e in event_ids} - set(replayed))
    return ReplayReport(replayed=replayed, skipped=skipped)


def outbox_prune(
    *, older_than: timedelta, batch_size: int = 1000, max_batches: int | None = None
) -> int:
    """Delete sent rows sent more than ``older_than`` ago, in batches of ``batch_size``.

    Each batch is its own short transaction (ids picked by primary key, oldest
    first, then deleted), so pruning a large backlog never holds long locks or
    one huge transaction. Pending and failed rows are never touched.
    """
    cutoff = timezone.now() - older_than
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            ids = list(
                OutboxMessage.objects.filter(status=OutboxStatus.SENT, sent_at__lt=cutoff)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if ids:
                OutboxMessage.objects.filter(pk__in=ids, status=OutboxStatus.SENT).delete()
        deleted += len(ids)
        batches += 1
        if len(ids) < batch_size:
            break
    if deleted:
        log.info("outbox.pruned", deleted=deleted, older_than_h=older_than.total_seconds() / 3600)
    return deleted
