"""Reading the audit trail's events back from the outbox, as the worker will receive them."""

from __future__ import annotations

from typing import Any

from shared_contracts import Envelope, decode
from shared_contracts.events.audit import EntityChanged

from courier_web.outbox.models import OutboxMessage
from courier_web.outbox.publishing import wire_message


def audit_envelopes() -> list[Envelope[EntityChanged]]:
    """Every ``entity.changed.v1`` in the outbox, in the order it was written."""
    rows = OutboxMessage.objects.filter(event_type=EntityChanged.event_type).order_by("pk")
    envelopes: list[Envelope[EntityChanged]] = []
    for row in rows:
        wire = wire_message(row)
        envelopes.append(decode(wire.body, wire.headers))
    return envelopes


def changes() -> list[tuple[str, str, str, int, tuple[str, ...]]]:
    """(entity, id, action, version, changed fields) of every audit event, in order."""
    return [
        (c.entity, c.entity_id, c.action, c.version, c.changed_fields)
        for c in (envelope.payload for envelope in audit_envelopes())
    ]


def forget_events() -> None:
    OutboxMessage.objects.all().delete()


def outbox_text() -> str:
    """Everything the outbox holds, as one string (to look for what must not be there)."""
    parts: list[Any] = []
    for row in OutboxMessage.objects.all():
        parts += [row.body, row.headers, row.properties]
    return " ".join(str(part) for part in parts)
