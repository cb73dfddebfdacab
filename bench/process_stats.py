"""What ``/proc`` says about processes: CPU used, children, resident memory."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path


def proc_stats() -> Iterator[tuple[int, str, list[str]]]:
    """``(pid, command name, the stat fields after the name)`` of every process (``/proc``).

    The fields after the name, from 0: state, ppid, pgrp, ..., utime at 11,
    stime 12, and the reaped children's cutime 13 and cstime 14 (in clock ticks).
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        head, _, rest = stat.rpartition(")")
        yield int(entry.name), head.partition("(")[2], rest.split()


def clock_ticks() -> int:
    """Clock ticks per second: the unit of the CPU times in ``proc_stats``."""
    return os.sysconf("SC_CLK_TCK")


def group_cpu(pgids: Sequence[int]) -> dict[int, float]:
    """CPU seconds used so far by the live processes of each process group in ``pgids``.

    User + system time of every member, plus what its reaped children used.
    """
    used = dict.fromkeys(pgids, 0)
    for _, _, fields in proc_stats():
        pgrp = int(fields[2])
        if pgrp in used:
            used[pgrp] += sum(int(f) for f in fields[11:15])
    ticks = clock_ticks()
    return {pgid: value / ticks for pgid, value in used.items()}


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    return [child for child, _, fields in proc_stats() if int(fields[1]) == pid]


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


__all__ = ["children", "clock_ticks", "group_cpu", "proc_stats", "rss_mb"]
