"""``GET /api/stats`` numbers, served from the cache and invalidated on commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction

from courier_web.stats.selectors import DAYS, stats_compute, stats_get
from courier_web.users.importing import ImportRow, user_import
from courier_web.users.models import User
from courier_web.users.services import user_create, user_delete
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
AssertNumQueries = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def joined(email: str, when: datetime) -> User:
    user = user_create(email=email, password=STRONG_PASSWORD)
    user.date_joined = when
    user.save(update_fields=["date_joined"])
    return user


def test_thirty_utc_days_ending_today_with_the_empty_days_included() -> None:
    today = date(2026, 3, 31)
    noon = datetime(2026, 3, 31, 12, tzinfo=UTC)
    joined("today@example.com", noon)
    joined("today2@example.com", noon.replace(hour=0, minute=0))
    joined("first-day@example.com", noon - timedelta(days=DAYS - 1))
    joined("too-old@example.com", noon - timedelta(days=DAYS))

    stats = stats_compute(today=today)

    assert stats["users"] == 4
    days = stats["signups_per_day"]
    assert len(days) == DAYS
    assert days[0] == {"date": "2026-03-02", "count": 1}
    assert days[-1] == {"date": "2026-03-31", "count": 2}
    assert sum(d["count"] for d in days) == 3
    assert [d["date"] for d in days] == sorted(d["date"] for d in days)


def test_a_burst_of_reads_after_the_first_costs_no_query(
    django_assert_num_queries: AssertNumQueries,
) -> None:
    user_create(email="ada@example.com", password=STRONG_PASSWORD)

    with django_assert_num_queries(2):  # signups per day, and the user count
        first = stats_get()
    with django_assert_num_queries(0):
        burst = [stats_get() for _ in range(50)]

    assert first["users"] == 1
    assert all(read == first for read in burst)


def test_a_registration_shows_in_the_next_read_after_its_commit_not_before(
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    assert stats_get()["users"] == 0

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        user_create(email="ada@example.com", password=STRONG_PASSWORD)
        before_commit = stats_get()["users"]
    for callback in callbacks:
        callback()

    assert before_commit == 0
    assert stats_get()["users"] == 1
    assert stats_get()["signups_per_day"][-1]["count"] == 1


def test_a_rolled_back_registration_invalidates_nothing(
    django_capture_on_commit_callbacks: CaptureOnCommit,
    django_assert_num_queries: AssertNumQueries,
) -> None:
    stats_get()

    def register_then_fail() -> None:
        with transaction.atomic():
            user_create(email="ada@example.com", password=STRONG_PASSWORD)
            raise RuntimeError("rolled back")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        register_then_fail()

    assert callbacks == []
    with django_assert_num_queries(0):
        assert stats_get()["users"] == 0


def test_an_update_keeps_the_cache(
    django_capture_on_commit_callbacks: CaptureOnCommit,
    django_assert_num_queries: AssertNumQueries,
) -> None:
    user = user_create(email="ada@example.com", password=STRONG_PASSWORD)
    stats_get()

    with django_capture_on_commit_callbacks(execute=True):
        user.display_name = "Ada"
        user.save(update_fields=["display_name"])

    with django_assert_num_queries(0):
        stats_get()


def test_a_deletion_and_an_import_invalidate_on_commit(
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    ada = user_create(email="ada@example.com", password=STRONG_PASSWORD)
    assert stats_get()["users"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        user_delete(user=ada)
    after_delete = stats_get()["users"]
    with django_capture_on_commit_callbacks(execute=True):
        user_import(rows=[ImportRow(email=f"i{n}@example.com") for n in range(3)])

    assert after_delete == 0
    assert stats_get()["users"] == 3
