"""One delivered message: validate it, run its handler once, or say why it is refused.

The order: decode and validate with ``shared_contracts`` (a message that
breaks the contracts is dead-lettered: retrying cannot fix it), then, in one
database transaction, record the event id as consumed and run the handler.
A second delivery of the same event finds the record and changes nothing;
a handler that fails leaves no record, so the message is delivered again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from shared_contracts import ContractError, UnknownEventType, decode

from courier_web.consumer.models import ConsumedEvent
from courier_web.consumer.registry import consumption_for

log = structlog.get_logger(__name__)


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead-lettered"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    event_type: str = ""
    event_id: str = ""
    #: Why a dead letter was refused (a ``ContractError.reason``) and the detail.
    reason: str = ""
    detail: str = ""


def process(body: bytes, headers: Mapping[str, Any] | None) -> Result:
    """Handle one message's event at most once; raises only when the handler failed
    (nothing was recorded: the caller has it delivered again)."""
    try:
        envelope = decode(body, headers or {})
        consumption = consumption_for(envelope.event_type)
        if consumption is None:
            raise UnknownEventType(f"the web consumes no {envelope.event_type!r}")
    except ContractError as exc:
        return Result(Outcome.DEAD_LETTERED, reason=exc.reason, detail=str(exc))
    event_id = str(envelope.event_id)
    with structlog.contextvars.bound_contextvars(
        event_id=event_id,
        event_type=envelope.event_type,
        correlation_id=envelope.correlation_id,
    ):
        try:
            with transaction.atomic():
                with (
                    transaction.atomic()
                ):  # the INSERT alone, so a duplicate leaves the outer usable
                    ConsumedEvent.objects.create(
                        event_id=envelope.event_id, event_type=envelope.event_type
                    )
                consumption.handler(envelope)
        except IntegrityError:
            if ConsumedEvent.objects.filter(event_id=envelope.event_id).exists():
                log.info("event.duplicate")
                return Result(Outcome.DUPLICATE, envelope.event_type, event_id)
            raise
        log.info("event.consumed")
        return Result(Outcome.HANDLED, envelope.event_type, event_id)
