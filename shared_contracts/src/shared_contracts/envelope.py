"""The envelope: metadata every event travels in, around its typed payload."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from shared_contracts.events.base import EVENT_TYPE_PATTERN, Event

PayloadT = TypeVar("PayloadT", bound=Event)

#: What a correlation id may look like: it is echoed into HTTP headers and log
#: lines, so only a bounded run of safe characters is accepted.
CORRELATION_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"
_CORRELATION_ID_RE = re.compile(CORRELATION_ID_PATTERN)


class Envelope(BaseModel, Generic[PayloadT]):
    """One event on the wire: who said what, when, and because of which request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    event_type: Annotated[str, Field(pattern=EVENT_TYPE_PATTERN, max_length=128)]
    schema_version: Annotated[int, Field(ge=1)]
    occurred_at: AwareDatetime
    producer: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.\-]*$")]
    correlation_id: Annotated[str, Field(pattern=CORRELATION_ID_PATTERN)]
    payload: PayloadT

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


def is_valid_correlation_id(value: str) -> bool:
    """Whether ``value`` may be used as a correlation id as it is."""
    return bool(_CORRELATION_ID_RE.match(value))


def new_envelope(
    payload: PayloadT,
    *,
    producer: str,
    correlation_id: str,
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[PayloadT]:
    """Wrap ``payload`` in a fresh envelope stamped with its contract's type and revision."""
    # Parametrise by the payload's own class so the envelope validates (and
    # serialises) it as that class rather than as the bare ``Event`` bound.
    typed = cast("type[Envelope[PayloadT]]", Envelope.__class_getitem__(type(payload)))
    return typed(
        event_id=event_id or uuid.uuid4(),
        event_type=payload.event_type,
        schema_version=payload.schema_version,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id,
        payload=payload,
    )
