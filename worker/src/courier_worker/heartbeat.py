"""Liveness: the worker touches a file while it consumes; `courier-worker healthcheck` reads it.

The file is touched by a timer on the worker's event loop, and only while the
worker really consumes: connected to the broker, its consumer channel open,
and a consumer registered on every queue it was started for. So it goes stale
when the loop stops turning (a hung or wedged worker, not just a dead one),
while the worker waits in broker reconnection, and when the loop turns but
nothing is consumed any more: Celery's known "alive but not consuming"
failure after a reconnection (a channel closed under a live connection, a
consumer that was not restarted), which otherwise only shows as a growing
queue. An orchestrator that restarts the worker on a failing probe then
repairs it; give the probe a failure window longer than the broker outages
you want to ride out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import structlog
from celery import bootsteps

from courier_worker.settings import get_settings

log = structlog.get_logger(__name__)


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


def not_consuming(consumer: Any) -> str | None:
    """Why Celery's ``consumer`` does not consume every queue it should; None when it does.

    Asks only what the consumer knows (no broker round trip): its connection,
    its task consumer's channel, and a consumer tag for each selected queue
    (``celery control cancel_consumer`` deselects a queue, so an operator's
    choice is not a failure; cancelling the last one is).
    """
    if consumer is None:
        return "the consumer has not started"
    connection = getattr(consumer, "connection", None)
    if connection is None or not connection.connected:
        return "not connected to the broker"
    task_consumer = getattr(consumer, "task_consumer", None)
    if task_consumer is None:
        return "no task consumer (the consumer is restarting)"
    channel = getattr(task_consumer, "channel", None)
    if channel is None or not getattr(channel, "is_open", False):
        return "the task consumer's channel is closed"
    active = set(getattr(task_consumer, "_active_tags", None) or {})
    if not active:
        return "no queue is consumed"
    missing = set(consumer.app.amqp.queues.consume_from) - active
    if missing:
        return f"not consuming {', '.join(sorted(missing))}"
    return None


class Heartbeat(bootsteps.StartStopStep):
    """Worker bootstep: beat every ``WORKER_HEARTBEAT_INTERVAL`` seconds while consuming."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.path = get_settings().WORKER_HEARTBEAT_FILE
        self.tref: Any = None
        #: Why the last tick did not beat; None while consuming (log once per change).
        self.problem: str | None = None

    def start(self, worker: Any) -> None:
        # A file from a previous run of this container must not count.
        self.path.unlink(missing_ok=True)
        self.tref = worker.timer.call_repeatedly(
            get_settings().WORKER_HEARTBEAT_INTERVAL, self.tick, (worker,), priority=10
        )

    def tick(self, worker: Any) -> None:
        """Beat if the worker consumes; else say once why not, and let the file age."""
        problem = not_consuming(getattr(worker, "consumer", None))
        if problem is None:
            beat(self.path)
            if self.problem is not None:
                log.info("worker.consuming_again", after=self.problem)
        elif problem != self.problem:
            log.warning(
                "worker.not_consuming",
                reason=problem,
                note="the liveness file is not touched until it consumes again",
            )
        self.problem = problem

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        self.path.unlink(missing_ok=True)
