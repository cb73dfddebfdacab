"""The relay's three hot statements: claim rows by id, claim the oldest pending, mark sent.

On PostgreSQL they are fixed SQL texts run on Django's cursor. Built through
the ORM, the same statements cost the relay ~1 ms of CPU per claimed batch
(filter resolution and compilation, twice per batch), more than publishing the
message and waiting for its confirm: with one row per batch, the usual case
when NOTIFY wakes the relay per commit, that was two thirds of the relay's CPU
(docs/performance.md). Other databases (SQLite in development) take the ORM
path; ``tests/component/test_claims_postgres.py`` holds the two to the same rows.

Every claim runs inside the caller's transaction: ``FOR UPDATE SKIP LOCKED``
keeps the rows to this relay until that transaction ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.db import connection
from django.db.models import F
from django.utils import timezone

from courier_web.outbox.models import OutboxMessage, OutboxStatus


class ClaimedRow(NamedTuple):
    """A claimed row as the publisher reads it: plain values, no model instance.

    Building 100 model instances per batch cost the relay more than the
    broker did; a tuple per row is enough to publish it and record the outcome.
    """

    pk: int
    created_at: datetime
    event_id: uuid.UUID
    event_type: str
    correlation_id: str
    attempts: int
    exchange: str
    routing_key: str
    headers: dict[str, Any]
    properties: dict[str, Any]
    body: str


#: A place in the relay's order: ``(created_at, id)``.
Position = tuple[datetime, int]

_FIELDS = ClaimedRow._fields
_COLUMNS = ", ".join("id" if name == "pk" else name for name in _FIELDS)
_TABLE = OutboxMessage._meta.db_table
_PENDING = OutboxStatus.PENDING.value

# Only names and values from this module go into the texts (S608); every value
# from outside is a parameter.
_CLAIM_IDS = (
    f"SELECT {_COLUMNS} FROM {_TABLE} WHERE id = ANY(%s) AND status = '{_PENDING}' "  # noqa: S608
    "ORDER BY id FOR UPDATE SKIP LOCKED"
)
_CLAIM_OLDEST = (
    f"SELECT {_COLUMNS} FROM {_TABLE} WHERE status = '{_PENDING}' AND created_at <= %s "  # noqa: S608
    "{after}ORDER BY created_at, id LIMIT %s FOR UPDATE SKIP LOCKED"
)
# ``(created_at, id) > (%s, %s)``, spelled out: on a table not analysed yet the
# row comparison was estimated at a handful of rows and planned as a bitmap
# scan and a sort of every pending row (11 ms a batch on 10,000 rows); this
# form keeps the ordered scan of the pending index, as the ORM's did.
_AFTER = "AND created_at >= %s AND (created_at > %s OR id > %s) "
_MARK_SENT = (
    f"UPDATE {_TABLE} SET status = '{OutboxStatus.SENT.value}', sent_at = %s, "  # noqa: S608
    "attempts = attempts + 1, last_error = '' WHERE id = ANY(%s)"
)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def claim_ids(ids: Sequence[int]) -> list[ClaimedRow]:
    """Lock those of ``ids`` that are still pending (and not locked elsewhere), by id."""
    if _postgres():
        return _fetch(_CLAIM_IDS, [list(ids)])
    queryset = OutboxMessage.objects.filter(pk__in=ids, status=OutboxStatus.PENDING)
    return _orm(queryset.order_by("pk"), len(ids))


def claim_oldest(
    *, limit: int, created_before: datetime, after: Position | None
) -> list[ClaimedRow]:
    """Lock up to ``limit`` pending rows created by ``created_before``, oldest first.

    ``after`` starts past a place already handled (a backlog drain's previous
    batch); see ``outbox_publish_batch``.
    """
    if _postgres():
        if after is None:
            return _fetch(_CLAIM_OLDEST.format(after=""), [created_before, limit])
        at, pk = after
        return _fetch(_CLAIM_OLDEST.format(after=_AFTER), [created_before, at, at, pk, limit])
    queryset = OutboxMessage.objects.filter(
        status=OutboxStatus.PENDING, created_at__lte=created_before
    )
    if after is not None:
        created_at, pk = after
        queryset = queryset.filter(created_at__gte=created_at).exclude(
            created_at=created_at, pk__lte=pk
        )
    return _orm(queryset.order_by("created_at", "pk"), limit)


def mark_sent(pks: Sequence[int]) -> None:
    """Record the broker's confirm of these rows (one more attempt, no error)."""
    now = timezone.now()
    if _postgres():
        with connection.cursor() as cursor:
            cursor.execute(_MARK_SENT, [now, list(pks)])
        return
    OutboxMessage.objects.filter(pk__in=pks).update(
        status=OutboxStatus.SENT, sent_at=now, attempts=F("attempts") + 1, last_error=""
    )


def _fetch(sql: str, params: list[Any]) -> list[ClaimedRow]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Django's PostgreSQL backend reads jsonb as text (on the ORM path JSONField decodes it).
    return [
        row._replace(headers=_json(row.headers), properties=_json(row.properties))
        for row in map(ClaimedRow._make, rows)
    ]


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _orm(queryset: Any, limit: int) -> list[ClaimedRow]:
    # No effect on SQLite (the IMMEDIATE transaction already serialises).
    claimed = queryset.select_for_update(skip_locked=True).values_list(*_FIELDS)
    return [ClaimedRow._make(values) for values in claimed[:limit]]
