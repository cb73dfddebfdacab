"""When things happened, from the services' JSON log lines: the longest pause in a stream."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from ..support.logs import json_records


@dataclass(frozen=True)
class Gap:
    """The longest time between two consecutive events, and when it began."""

    seconds: float
    after: datetime | None

    def describe(self, origin: datetime) -> str:
        if self.after is None:
            return f"{self.seconds:.1f} s"
        return f"{self.seconds:.1f} s (from {(self.after - origin).total_seconds():+.1f} s)"


def event_times(logs: Iterable[str], event: str, event_ids: Collection[str]) -> list[datetime]:
    """Timestamps of ``event`` lines about ``event_ids``, across every log, in order."""
    times = [
        datetime.fromisoformat(str(record["timestamp"]))
        for text in logs
        for _, record in json_records(text)
        if record.get("event") == event and str(record.get("event_id")) in event_ids
    ]
    return sorted(times)


def longest_gap(times: list[datetime]) -> Gap:
    """The longest pause between consecutive times (0 with fewer than two)."""
    best = Gap(0.0, None)
    for before, after in itertools.pairwise(times):
        seconds = (after - before).total_seconds()
        if seconds > best.seconds:
            best = Gap(seconds, before)
    return best


def count_by_log(logs: dict[str, str], event: str, event_ids: Collection[str]) -> dict[str, int]:
    """How many ``event`` lines about ``event_ids`` each log has."""
    return {name: len(event_times([text], event, event_ids)) for name, text in logs.items()}
