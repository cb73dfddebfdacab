"""Consumers kept alive for a whole section, each on a vhost of its own, paused between runs.

consume and scaling start every consumer they compare once, each on a vhost
of its own with an identical copy of the worker's queues (a paused consumer
still subscribed to a queue is handed prefetched messages, so two never
share one), and keep it SIGSTOPped between its runs. A run fills that
consumer's queue (confirmed publishes), resumes it, measures the drain,
waits until every event is handled and the consumer is idle again, and
pauses it: a paused process uses no CPU, so only the measured consumer
runs. It resumes with its prefetch window already full, so its window
starts and ends in steady state (its start-up excluded). A consumer stays
paused for the other variants' runs of one repetition at most, well within
the broker's 60 s heartbeat.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from courier_worker.queues import BULK
from shared_contracts import WireMessage

from bench import broker, databases
from bench.paths import BIN
from bench.processes import Proc, reap, start, wait_quiet, wait_until
from bench.progress import phase
from bench.publishing import publish_confirmed
from bench.sections.context import Context
from bench.sections.web_servers import web_answering


def celery_worker(
    ctx: Context,
    name: str,
    app: str,
    *,
    concurrency: int,
    pool: str = "prefork",
    env: dict[str, str] | None = None,
    queues: str | None = None,
) -> Proc:
    """``celery -A app worker`` (no mingle, no gossip), started in the run's clean-up."""
    argv = [
        str(BIN / "celery"),
        "-A",
        app,
        "worker",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "WARNING",
        "-n",
        f"{name}-{uuid.uuid4().hex[:6]}@bench",
    ]
    if queues:
        argv += ["-Q", queues]
    return start(ctx.cleanup, name, argv, env or ctx.worker_env(), ctx.tmp)


def handled_count(ctx: Context) -> int:
    """Events the Courier worker has recorded as handled (its idempotency table)."""
    return int(databases.sql(ctx.worker_db, "SELECT count(*) FROM handled_events")[0][0])


@dataclass
class Held:
    """A consumer kept alive for a whole section on a vhost of its own, paused between runs."""

    name: str
    url: str  # its vhost: nobody else consumes its queues
    procs: list[Proc]
    consumers: int  # its consumers on BULK once it is up
    prefetch: int  # messages the broker may hand it while it is paused
    #: The Courier app: every event handled leaves a row in ``handled_events``.
    records: bool = False


def hold(ctx: Context, section: str, held: Sequence[Held]) -> None:
    """Wait until every consumer is subscribed and the start-ups are over, then pause them all."""
    procs = [p for h in held for p in h.procs]
    web_answering(ctx)  # anything started ahead is idle too
    reap()  # the previous consumers of these vhosts are gone
    for h in held:
        wait_until(f"{h.name} consuming", partial(_subscribed, h), 60, h.procs[0])
    wait_quiet(procs, f"the {section} consumers' start-up")
    for proc in procs:
        proc.pause()


def _subscribed(h: Held) -> bool:
    return broker.queue_counts(h.url, BULK.name)[1] >= h.consumers


def run_held(
    section: str, ctx: Context, h: Held, messages: Sequence[WireMessage], timeout: float
) -> float:
    """Fill ``h``'s queue while it is paused, resume it, measure the drain, pause it again."""
    n = len(messages)
    with phase(f"{section}/fill"):
        broker.purge(h.url, BULK.name)  # empty already: every run ends with the queue drained
        publish_confirmed(h.url, messages)
        ready = broker.wait_settled_count(h.url, BULK.name, n, h.prefetch)
        before = handled_count(ctx) if h.records else 0
    for proc in h.procs:
        proc.resume()
    try:
        with phase(f"{section}/measured"):
            rate = _drain(h, ready, timeout)
        with phase(f"{section}/finish"):
            if h.records:  # its last in-flight events too, before it is paused
                wait_until(
                    f"every probe recorded as handled by {h.name}",
                    lambda: handled_count(ctx) >= before + n,
                    30,
                    h.procs[0],
                )
            wait_quiet(h.procs, f"{h.name} idle after its run")
    finally:
        for proc in h.procs:
            proc.pause()
    return rate


def _drain(h: Held, count: int, timeout: float) -> float:
    try:
        return broker.measure_drain(h.url, BULK.name, count, timeout)
    except RuntimeError as exc:
        tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in h.procs)
        raise RuntimeError(f"{exc}\n{tails}") from None


__all__ = ["Held", "celery_worker", "handled_count", "hold", "run_held"]
