"""Reads of the site statistics: computed from the users table, served from the cache."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from courier_web.stats.cached import CachedValue
from courier_web.users.models import User

__all__ = ["DAYS", "Stats", "stats_compute", "stats_get"]

#: Signups are counted for this many days, today (UTC) included.
DAYS = 30


class DayCount(TypedDict):
    date: str
    count: int


class Stats(TypedDict):
    users: int
    signups_per_day: list[DayCount]


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


def stats_compute(*, today: date | None = None) -> Stats:
    """The statistics as the database has them now: two queries."""
    today = today or _today()
    first = today - timedelta(days=DAYS - 1)
    counts = dict(
        User.objects.filter(date_joined__gte=datetime.combine(first, time.min, tzinfo=UTC))
        .annotate(day=TruncDate("date_joined", tzinfo=UTC))
        .values("day")
        .annotate(signups=Count("pk"))
        .order_by()
        .values_list("day", "signups")
    )
    days = (first + timedelta(days=offset) for offset in range(DAYS))
    return {
        "users": User.objects.count(),
        "signups_per_day": [{"date": d.isoformat(), "count": counts.get(d, 0)} for d in days],
    }


#: The cached statistics: per day (a new day starts a new key), invalidated by
#: ``stats.signals`` when a transaction that created or deleted users commits.
stats_cache: CachedValue[Stats] = CachedValue(
    "courier:stats:v1",
    stats_compute,
    timeout=lambda: float(settings.STATS_CACHE_SECONDS),
    scope=lambda: _today().isoformat(),
)


def stats_get() -> Stats:
    """The statistics from the cache; on a miss, computed once and cached."""
    return stats_cache.get()
