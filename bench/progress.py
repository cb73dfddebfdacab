"""Progress lines on stderr, and the wall time of each named phase of a run.

``phase`` accumulates the wall time of each named phase (start-ups, queue
fills, measured windows, ...) in ``TIMINGS``; ``run.py`` prints the breakdown.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

#: Wall seconds per phase, ``"section/what"`` -> seconds, accumulated by ``phase``.
TIMINGS: dict[str, float] = {}


def say(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the wall time of the ``with`` block to ``TIMINGS[name]``."""
    started = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[name] = TIMINGS.get(name, 0.0) + time.monotonic() - started


def breakdown(total: float) -> dict[str, Any]:
    """Wall seconds per section and, within it, per phase (``phase("section/what")``)."""
    out: dict[str, Any] = {"total": total}
    for name, seconds in TIMINGS.items():
        section, _, what = name.partition("/")
        out.setdefault(section, {})[what or "total"] = seconds
    for section, entry in list(out.items())[1:]:
        whole = entry.pop("total", sum(entry.values()))
        parts = {what: round(seconds, 1) for what, seconds in entry.items()}
        if parts:
            parts["other"] = round(whole - sum(entry.values()), 1)
        out[section] = {"total": round(whole, 1), **parts}
    return out


def breakdown_line(timings: dict[str, Any]) -> str:
    """``breakdown`` as printed at the end of a run: one line per section."""
    parts = []
    for section, entry in timings.items():
        if section == "total":
            continue
        inner = ", ".join(f"{k} {v:g}" for k, v in entry.items() if k != "total")
        parts.append(f"\n  {section} {entry.get('total', 0):g}" + (f" ({inner})" if inner else ""))
    return f"total {timings['total']:g}" + "".join(parts)


__all__ = ["TIMINGS", "breakdown", "breakdown_line", "phase", "say"]
