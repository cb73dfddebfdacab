"""The stats API's response shape."""

from __future__ import annotations

from ninja import Schema


class DayCountOut(Schema):
    """Signups on one UTC day."""

    date: str
    count: int


class StatsOut(Schema):
    """How many users there are, and how many signed up on each of the last 30 days (UTC)."""

    users: int
    signups_per_day: list[DayCountOut]
