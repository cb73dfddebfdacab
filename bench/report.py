"""Repetitions into figures (median, min, max), the printed table and ``latest.json``."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of a figure's repetitions (and the repetitions themselves)."""
    if not values:
        raise ValueError("no repetitions")
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": [round(v, 4) for v in values],
    }


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """Per-repetition ratios (each within one repetition, so drift cancels), summarised."""
    return summary([a / b for a, b in zip(numerators, denominators, strict=True)])


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


class Table:
    """Rows of (figure, median, min, max, unit, goal), printed as aligned text."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str, str]] = []

    def add(self, name: str, fig: dict[str, Any], unit: str, goal: str = "", digits: int = 1):
        def fmt(v: float) -> str:
            return f"{v:,.{digits}f}"

        self.rows.append((name, fmt(fig["median"]), fmt(fig["min"]), fmt(fig["max"]), unit, goal))

    def section(self, title: str) -> None:
        self.rows.append((f"-- {title}", "", "", "", "", ""))

    def render(self) -> str:
        head = ("figure", "median", "min", "max", "unit", "goal")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(6)]
        lines = []
        for row in [head, *self.rows]:
            cells = [
                row[0].ljust(widths[0]),
                *(row[i].rjust(widths[i]) for i in (1, 2, 3)),
                row[4].ljust(widths[4]),
                row[5],
            ]
            lines.append("  ".join(cells).rstrip())
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def markdown(self) -> str:
        out = [
            "| figure | median | min | max | unit | goal |",
            "| --- | ---: | ---: | ---: | --- | --- |",
        ]
        for name, med, lo, hi, unit, goal in self.rows:
            if name.startswith("-- "):
                out.append(f"| **{name[3:]}** | | | | | |")
            else:
                out.append(f"| {name} | {med} | {lo} | {hi} | {unit} | {goal} |")
        return "\n".join(out)


def goal(value: float, op: str, target: float) -> str:
    met = value >= target if op == ">=" else value <= target
    return f"{op} {target:g}: {'met' if met else 'NOT met'}"


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
