"""Publishing outbox rows: relay time (the relay and the in-process publisher).

Rows are claimed inside a transaction: ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent relays (and the in-process publisher) never publish
the same row; on SQLite, whose transactions are ``IMMEDIATE``, they serialise.
A claimed batch is published as a whole (``Publisher.publish_many``: every
message out, then every confirm collected) and its outcomes are recorded with
one ``UPDATE`` per outcome, still inside the claiming transaction. A row is
marked sent only after the broker's confirm.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import structlog
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from shared_contracts import WireMessage

from courier_web.metrics.registry import (
    OUTBOX_PUBLISH_FAILED,
    OUTBOX_PUBLISHED,
    OUTBOX_RETURNED,
)
from courier_web.outbox.claims import ClaimedRow, Position, claim_ids, claim_oldest, mark_sent
from courier_web.outbox.failpoints import EXIT_AFTER_CONFIRM, failpoint
from courier_web.outbox.models import OutboxMessage, OutboxStatus
from courier_web.outbox.publisher import Outcome, Publisher, PublishResult

__all__ = [
    "BatchReport",
    "StoredMessage",
    "outbox_publish_batch",
    "outbox_publish_ids",
    "wire_message",
]

log = structlog.get_logger(__name__)


class StoredMessage(Protocol):
    """What publishing needs of an outbox row (a model instance or a ``ClaimedRow``)."""

    @property
    def exchange(self) -> str: ...
    @property
    def routing_key(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def headers(self) -> dict[str, Any]: ...
    @property
    def properties(self) -> dict[str, Any]: ...


def wire_message(row: StoredMessage) -> WireMessage:
    """Rebuild the exact message ``encode`` produced from its stored row."""
    return WireMessage.from_amqp(
        exchange=row.exchange,
        routing_key=row.routing_key,
        body=row.body.encode("ascii"),
        headers=row.headers,
        properties=row.properties,
    )


@dataclass(frozen=True)
class BatchReport:
    """What one claimed batch came to."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    #: Set when the broker could not take a row: stop and back off.
    error: str | None = None
    #: ``(created_at, id)`` of the last row claimed: where the next batch of a
    #: backlog may start (``outbox_publish_batch(after=...)``).
    last: Position | None = None


def outbox_publish_ids(*, ids: Sequence[int], publisher: Publisher) -> BatchReport:
    """Publish the given rows if they are still pending (the in-process path)."""
    with transaction.atomic():
        return _publish_claimed(claim_ids(ids), publisher=publisher)


def outbox_publish_batch(
    *,
    publisher: Publisher,
    limit: int,
    min_age: timedelta = timedelta(0),
    after: Position | None = None,
) -> BatchReport:
    """Claim up to ``limit`` pending rows older than ``min_age`` and publish them (the relay).

    ``after`` (the previous batch's ``BatchReport.last``) starts the claim past
    the rows a backlog drain has already handled. Without it every batch would
    scan the pending index from its start, through the entries of rows just
    marked sent (dead until vacuum): quadratic in the backlog, 33 ms a batch
    on average over a 10,000-row drain (docs/performance.md). A row it passes over (one
    committed late with an older ``created_at``) is claimed once the caller
    starts again without ``after``, as the relay does whenever a batch is short.
    """
    with transaction.atomic():
        rows = claim_oldest(limit=limit, created_before=timezone.now() - min_age, after=after)
        return _publish_claimed(rows, publisher=publisher)


def _publish_claimed(rows: Sequence[ClaimedRow], *, publisher: Publisher) -> BatchReport:
    """Publish rows claimed in the current transaction and record their outcomes in it."""
    if not rows:
        return BatchReport()
    # Every row goes out before any confirm is awaited; the outcomes come back
    # only from confirms (or their absence), and are recorded before commit.
    results = publisher.publish_many([wire_message(row) for row in rows])
    if len(results) != len(rows):  # a broken publisher: record nothing as sent
        raise RuntimeError(f"{len(results)} publish results for {len(rows)} rows")
    if any(result.outcome is Outcome.CONFIRMED for result in results):
        failpoint(EXIT_AFTER_CONFIRM)  # a test seam (failpoints.py); off unless configured
    return _record(rows, results)


def _record(rows: Sequence[ClaimedRow], results: Sequence[PublishResult]) -> BatchReport:
    """One ``UPDATE`` per outcome (and reason): sent, failed for good, still pending."""
    sent: list[ClaimedRow] = []
    returned: defaultdict[str, list[ClaimedRow]] = defaultdict(list)
    unconfirmed: defaultdict[str, list[ClaimedRow]] = defaultdict(list)
    for row, result in zip(rows, results, strict=True):
        if result.outcome is Outcome.CONFIRMED:
            sent.append(row)
        elif result.outcome is Outcome.RETURNED:
            returned[result.detail].append(row)
        else:
            unconfirmed[result.detail].append(row)

    attempted = F("attempts") + 1
    if sent:
        mark_sent([row.pk for row in sent])
        for event_type, count in Counter(row.event_type for row in sent).items():
            OUTBOX_PUBLISHED.labels(event_type).inc(count)
        for row in sent:
            log.info("outbox.published", **_context(row))
    for reason, group in returned.items():
        OutboxMessage.objects.filter(pk__in=[row.pk for row in group]).update(
            status=OutboxStatus.FAILED, attempts=attempted, last_error=reason
        )
        for row in group:
            OUTBOX_RETURNED.labels(row.event_type).inc()
            log.error("outbox.unroutable", reason=reason, **_context(row))
    for reason, group in unconfirmed.items():
        # Nacked, timed out or the connection went: stays pending, retried later.
        OutboxMessage.objects.filter(pk__in=[row.pk for row in group]).update(
            attempts=attempted, last_error=reason
        )
        for row in group:
            OUTBOX_PUBLISH_FAILED.labels(row.event_type).inc()
            log.debug("outbox.publish_failed", reason=reason, **_context(row))
    failed = sum(len(group) for group in returned.values())
    # Any unconfirmed row means the broker did not take it: the caller backs off.
    error = next(iter(unconfirmed), None)
    last = rows[-1]
    return BatchReport(len(rows), len(sent), failed, error=error, last=(last.created_at, last.pk))


def _context(row: ClaimedRow) -> dict[str, object]:
    """Log fields of ``row`` after this attempt (``attempts`` as now stored)."""
    return {
        "event_id": str(row.event_id),
        "event_type": row.event_type,
        "correlation_id": row.correlation_id,
        "attempts": row.attempts + 1,
    }
