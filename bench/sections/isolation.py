"""isolation: a welcome email's latency while newsletter emails queue on the bulk queue.

Registration to ``event.handled`` of its welcome email (as ``latency``
measures it), first with an idle bulk queue, then while a newsletter of
``isolation_backlog`` emails waits on it (chunk events published straight to
the events exchange, as the relay would, sent by the worker at
``NEWSLETTER_RATE_LIMIT``). Two deployments of the same processes count:

* ``shared``: one worker consuming both queues (``WORKER_QUEUES`` unset): its
  pool children take bulk chunks too, and a welcome email waits for one;
* ``separate``: a worker per queue (``WORKER_QUEUES=critical`` / ``bulk``),
  as ``infra/compose.yaml`` and ``infra/k8s/`` deploy them.

The goal: with separate workers, the p99 under the backlog is at most 1.5 x
the idle p99.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from courier_worker.queues import BULK, CRITICAL
from shared_contracts import EVENTS_EXCHANGE, encode, new_envelope
from shared_contracts.events.newsletters import (
    MAX_CHUNK_RECIPIENTS,
    NewsletterChunkReady,
    NewsletterRecipient,
)

from bench import broker, loadgen
from bench.processes import Proc, retire, wait_quiet, wait_until
from bench.progress import phase, say
from bench.publishing import publish_confirmed
from bench.report import percentile
from bench.sections.consumers import celery_worker
from bench.sections.context import Context
from bench.sections.http_requests import register_user_tagged
from bench.sections.latency import HandledLog
from bench.sections.web_servers import LATENCY_WEB, web_answering, web_procs, web_stack

VARIANTS = ("shared", "separate")
#: A queue of the bench's own for what the worker sends back (``newsletter.chunk_sent``):
#: the web's consumer is not running here, and its events must go somewhere.
RESULTS_SINK = "bench.isolation.results"


def isolation(ctx: Context) -> dict[str, dict[str, float]]:
    """Per variant: p50/p99 (ms) idle and under the backlog, and the bulk messages left."""
    with phase("isolation/start"):
        servers = web_stack(ctx, LATENCY_WEB)
        web_answering(ctx)
        _declare_results_sink(ctx)
    return {variant: _measure(ctx, variant, servers["base"][1]) for variant in VARIANTS}


def _measure(ctx: Context, variant: str, port: int) -> dict[str, float]:
    cfg = ctx.config
    with _workers(ctx, variant) as critical_worker:
        log = HandledLog(critical_worker.log_path)

        def offer(tag: str, seconds: float, what: str) -> list[float]:
            """Register at the offered rate; ms from each response to its welcome email."""
            with phase(f"isolation/{variant} {what}"):
                samples = loadgen.open_loop(
                    port,
                    register_user_tagged(tag),
                    rate=cfg.isolation_offered_rate,
                    seconds=seconds,
                )
            if bad := [s for s in samples if s.status != 201]:
                raise RuntimeError(f"isolation {variant}: {len(bad)} requests failed")
            wanted = {f"{tag}x{s.index}": s for s in samples}
            wait_until(
                f"isolation {variant}: welcome emails handled",
                lambda: all(key in log.update() for key in wanted),
                # One worker for both queues may send the whole backlog first.
                120 + cfg.isolation_backlog / cfg.isolation_rate_limit,
                critical_worker,
            )
            return [(log.found[key] - s.responded) * 1000 for key, s in wanted.items()]

        run = f"{ctx.run_id}{VARIANTS.index(variant)}"
        offer(f"isow{run}", cfg.warmup_seconds, "warm-up")
        idle = offer(f"isoi{run}", cfg.isolation_seconds, "idle")
        with phase(f"isolation/{variant} backlog"):
            _queue_newsletter(ctx, cfg.isolation_backlog)  # confirmed: queued
        busy = offer(f"isob{run}", cfg.isolation_seconds, "under backlog")
        left = broker.queue_counts(ctx.url, BULK.name)[0]
    if left == 0:
        say(f"isolation {variant}: the backlog drained within the measurement: raise it")
    figures = {
        "idle_p50": percentile(idle, 50),
        "idle_p99": percentile(idle, 99),
        "backlog_p50": percentile(busy, 50),
        "backlog_p99": percentile(busy, 99),
        "bulk_left": float(left),
        "count": float(len(busy)),
    }
    figures["p99_ratio"] = figures["backlog_p99"] / max(figures["idle_p99"], 1e-9)
    say(
        f"isolation {variant}: p99 idle {figures['idle_p99']:.1f} ms, under a backlog "
        f"{figures['backlog_p99']:.1f} ms ({left} bulk messages still queued at the end)"
    )
    return figures


@contextmanager
def _workers(ctx: Context, variant: str) -> Iterator[Proc]:
    """The variant's workers, consuming and idle (yields the critical queue's); on exit
    stopped, and the bulk queue purged."""
    cfg = ctx.config
    env = {
        "LOG_LEVEL": "INFO",
        "MAIL_DIR": str(ctx.tmp / f"mail-{variant}"),
        "NEWSLETTER_RATE_LIMIT": str(cfg.isolation_rate_limit),
    }
    if variant == "shared":
        both = celery_worker(
            ctx, "iso-shared", "courier_worker.celery_app:app",
            concurrency=cfg.concurrency, env=ctx.worker_env(**env),
        )  # fmt: skip
        procs = [both]
        critical = both
    else:
        critical = celery_worker(
            ctx, "iso-critical", "courier_worker.celery_app:app",
            concurrency=cfg.concurrency, env=ctx.worker_env(WORKER_QUEUES="critical", **env),
        )  # fmt: skip
        bulk = celery_worker(
            ctx, "iso-bulk", "courier_worker.celery_app:app",
            concurrency=cfg.concurrency, env=ctx.worker_env(WORKER_QUEUES="bulk", **env),
        )  # fmt: skip
        procs = [critical, bulk]
    try:
        for queue in (CRITICAL.name, BULK.name):
            wait_until(
                f"isolation {variant}: a consumer on {queue}",
                lambda queue=queue: broker.queue_counts(ctx.url, queue)[1] > 0,  # type: ignore[misc]
                60,
                critical,
            )
        wait_quiet([*procs, *web_procs(ctx)], f"the isolation {variant} workers' start-up")
        yield critical
    finally:
        broker.purge(ctx.url, BULK.name, RESULTS_SINK)
        retire(procs)


def _declare_results_sink(ctx: Context) -> None:
    with broker.channel(ctx.url) as chan:
        chan.queue_declare(RESULTS_SINK, durable=False, exclusive=False, auto_delete=True)
        chan.queue_bind(RESULTS_SINK, EVENTS_EXCHANGE, routing_key="newsletter.#")


def _queue_newsletter(ctx: Context, emails: int) -> None:
    """One newsletter to ``emails`` made-up recipients, as chunk events on the exchange."""
    newsletter = uuid.uuid4()
    chunks = -(-emails // MAX_CHUNK_RECIPIENTS)
    messages = []
    for chunk in range(chunks):
        first = chunk * MAX_CHUNK_RECIPIENTS
        recipients = [
            NewsletterRecipient(
                user_id=n + 1,
                email=f"reader{n}@bench.example.com",
                unsubscribe_url=f"http://bench.example.com/unsubscribe?n={n}",
            )
            for n in range(first, min(first + MAX_CHUNK_RECIPIENTS, emails))
        ]
        event = NewsletterChunkReady(
            newsletter_id=newsletter,
            chunk=chunk,
            subject="Bench newsletter",
            body="What is new this month.",
            recipients=recipients,
        )
        envelope = new_envelope(
            event, producer="courier-bench", correlation_id=f"{newsletter.hex}-{chunk}"
        )
        messages.append(encode(envelope, origin="courier-bench"))
    publish_confirmed(ctx.url, messages)


__all__ = ["isolation"]
