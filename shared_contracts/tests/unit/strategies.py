"""Hypothesis strategies for valid events and envelopes, derived from the registry.

Each registered contract's payloads are built field by field from its
annotations and their constraints (``Field(ge=1)``, ``max_length``...), so a
new event is covered by every property test as soon as its class exists;
nothing here names an event type. A field of a type hypothesis cannot build
fails loudly: register a strategy for it below.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from functools import cache
from typing import Annotated, Any

from hypothesis import strategies as st
from pydantic import AwareDatetime, EmailStr
from pydantic.fields import FieldInfo
from shared_contracts import EVENT_TYPES, Envelope, Event, new_envelope

_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20)
#: Addresses every validator agrees on (hypothesis' own ``emails()`` includes
#: forms that ``email-validator`` rightly refuses, such as reserved domains).
emails = st.builds("{}@{}.example.com".format, _label, _label)
correlation_ids = st.text(alphabet="ABCDEFabcdef0123456789._:-", min_size=1, max_size=128)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(timezones=st.just(UTC)).flatmap(
    lambda dt: offsets.map(lambda tz: dt.replace(tzinfo=UTC).astimezone(tz))
)
st.register_type_strategy(EmailStr, emails)
# A contract's own timestamps (``AwareDatetime``), in any offset, as the envelope's.
st.register_type_strategy(AwareDatetime, aware_datetimes)  # type: ignore[arg-type]


def _values_of(field: FieldInfo) -> st.SearchStrategy[Any]:
    # pydantic keeps a field's constraints as annotated-types metadata
    # (``Ge(1)``, ``MaxLen(200)``), which hypothesis honours in ``Annotated``.
    pattern = next((m.pattern for m in field.metadata if getattr(m, "pattern", None)), None)
    if pattern is not None:
        # Hypothesis ignores pydantic's ``pattern``; the regex itself says what is valid.
        return st.from_regex(pattern, fullmatch=True).filter(
            lambda text: _fits(text, field.metadata)
        )
    if field.metadata:
        return st.from_type(Annotated[(field.annotation, *field.metadata)])  # type: ignore[arg-type]
    return st.from_type(field.annotation)  # type: ignore[arg-type]


def _fits(text: str, metadata: list[Any]) -> bool:
    low = next((m.min_length for m in metadata if getattr(m, "min_length", None)), 0)
    high = next((m.max_length for m in metadata if getattr(m, "max_length", None)), None)
    return len(text) >= low and (high is None or len(text) <= high)


@cache
def payloads_of(model: type[Event]) -> st.SearchStrategy[Event]:
    """Valid payloads of one contract."""
    fields = {name: _values_of(field) for name, field in model.model_fields.items()}
    return st.fixed_dictionaries(fields).map(model.model_validate)


def _any_payload() -> st.SearchStrategy[Event]:
    # Read the registry when drawing, not at import: contracts defined later
    # (by a test module, say) are included too.
    return st.sampled_from(sorted(EVENT_TYPES)).flatmap(lambda t: payloads_of(EVENT_TYPES[t]))


payloads: st.SearchStrategy[Event] = st.deferred(_any_payload)

envelopes: st.SearchStrategy[Envelope[Event]] = st.builds(
    lambda payload, correlation_id, event_id, occurred_at: new_envelope(
        payload,
        producer="courier-web",
        correlation_id=correlation_id,
        event_id=event_id,
        occurred_at=occurred_at,
    ),
    payloads,
    correlation_ids,
    st.uuids(),
    aware_datetimes,
)
