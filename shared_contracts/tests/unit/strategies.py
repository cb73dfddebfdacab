"""Hypothesis strategies for valid events and envelopes."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

from hypothesis import strategies as st

from shared_contracts import Envelope, Event, ProbeSent, UserRegistered, new_envelope

_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20)
emails = st.builds("{}@{}.example.com".format, _label, _label)
display_names = st.text(max_size=150).filter(lambda s: len(s) <= 150)
correlation_ids = st.text(alphabet="ABCDEFabcdef0123456789._:-", min_size=1, max_size=128)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(timezones=st.just(UTC)).flatmap(
    lambda dt: offsets.map(lambda tz: dt.replace(tzinfo=UTC).astimezone(tz))
)

user_registered = st.builds(
    UserRegistered,
    user_id=st.integers(min_value=1, max_value=2**63 - 1),
    email=emails,
    display_name=display_names,
)
probe_sent = st.builds(
    ProbeSent, sequence=st.integers(min_value=0, max_value=2**31), note=st.text(max_size=200)
)
payloads: st.SearchStrategy[Event] = st.one_of(user_registered, probe_sent)

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
