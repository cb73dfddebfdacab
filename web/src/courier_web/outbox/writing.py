"""Writing events to the outbox: request time, inside the transaction that made the change."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from shared_contracts import Event, encode, new_envelope

from courier_web.outbox.dispatch import dispatch_after_commit, get_dispatcher
from courier_web.outbox.models import OutboxMessage

__all__ = ["PRODUCER", "outbox_enqueue", "outbox_enqueue_many", "outbox_row"]

PRODUCER = "courier-web"


def outbox_row(event: Event, *, correlation_id: str) -> OutboxMessage:
    """The unsaved outbox row of ``event``: a new envelope, encoded once, as it will be sent.

    The row keeps the encoded message's parts (``WireMessage.stored_properties()``
    beside its headers and exact body), so publishing rebuilds it unchanged.
    """
    envelope = new_envelope(event, producer=PRODUCER, correlation_id=correlation_id)
    wire = encode(envelope, origin=PRODUCER)
    return OutboxMessage(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        correlation_id=envelope.correlation_id,
        exchange=wire.exchange,
        routing_key=wire.routing_key,
        headers=dict(wire.headers),
        properties=wire.stored_properties(),
        body=wire.body.decode("ascii"),
    )


def outbox_enqueue(event: Event, *, correlation_id: str) -> OutboxMessage:
    """Write ``event`` to the outbox in the current transaction; publish after commit.

    Call it inside the transaction that made the change: a rollback removes the
    row, and nothing is handed to the publisher before the commit.
    """
    row = outbox_row(event, correlation_id=correlation_id)
    row.save(force_insert=True)
    dispatch_after_commit(row.pk)
    return row


def outbox_enqueue_many(events: Iterable[Event], *, correlation_id: str) -> list[OutboxMessage]:
    """Write ``events`` to the outbox with one INSERT (per backend batch); publish after commit.

    As ``outbox_enqueue``, for many events at once. Where the database cannot
    return the new rows' ids from a bulk insert, the rows wait for the relay.
    """
    rows = [outbox_row(event, correlation_id=correlation_id) for event in events]
    if not rows:
        return rows
    OutboxMessage.objects.bulk_create(rows)
    ids = [row.pk for row in rows if row.pk is not None]
    if ids:
        transaction.on_commit(lambda: _submit_all(ids), robust=True)
    return rows


def _submit_all(row_ids: list[int]) -> None:
    dispatcher = get_dispatcher()
    for row_id in row_ids:
        dispatcher.submit(row_id)
