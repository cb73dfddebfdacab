"""Writing events to the outbox: request time, inside the transaction that made the change."""

from __future__ import annotations

from shared_contracts import Event, encode, new_envelope

from courier_web.outbox.dispatch import dispatch_after_commit
from courier_web.outbox.models import OutboxMessage

__all__ = ["PRODUCER", "outbox_enqueue"]

PRODUCER = "courier-web"


def outbox_enqueue(event: Event, *, correlation_id: str) -> OutboxMessage:
    """Write ``event`` to the outbox in the current transaction; publish after commit.

    Call it inside the transaction that made the change: a rollback removes the
    row, and nothing is handed to the publisher before the commit. The row
    keeps the encoded message's parts (``WireMessage.stored_properties()``
    beside its headers and exact body), so publishing rebuilds it unchanged.
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
        properties=wire.stored_properties(),
        body=wire.body.decode("ascii"),
    )
    dispatch_after_commit(row.pk)
    return row
