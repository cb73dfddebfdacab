"""Liveness: the running worker touches a file; ``courier-worker healthcheck`` checks its age.

The file is touched by a timer on the worker's event loop, so it stays fresh
only while that loop turns (a hung or wedged worker goes stale, not just a
dead one). While the worker cannot reach the broker its loop waits in
reconnection, so a long broker outage also makes it stale: give the probe a
failure window longer than outages you want to ride out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery import bootsteps

from courier_worker.settings import get_settings


def beat(path: Path) -> None:
    """Mark the worker alive now."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()} {time.time():.0f}\n")


def age(path: Path) -> float | None:
    """Seconds since the last beat, or None when there is none."""
    try:
        return max(0.0, time.time() - path.stat().st_mtime)
    except FileNotFoundError:
        return None


class Heartbeat(bootsteps.StartStopStep):
    """Worker bootstep: beat on start, then every ``WORKER_HEARTBEAT_INTERVAL`` seconds."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.path = get_settings().WORKER_HEARTBEAT_FILE
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        beat(self.path)
        self.tref = worker.timer.call_repeatedly(
            get_settings().WORKER_HEARTBEAT_INTERVAL, beat, (self.path,), priority=10
        )

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        self.path.unlink(missing_ok=True)
