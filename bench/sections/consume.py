"""consume: the Courier worker against a bare Celery no-op task and a raw kombu consumer."""

from __future__ import annotations

from courier_worker.queues import BULK

from bench import broker, process_stats
from bench.paths import PYTHON
from bench.processes import retire, start
from bench.progress import phase, say
from bench.publishing import probes
from bench.sections.consumers import Held, celery_worker, hold, run_held
from bench.sections.context import Context, rotate


def consume(ctx: Context) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Events per second of each consumer, per repetition; the Courier worker's memory."""
    cfg = ctx.config
    n, c = cfg.consume_count, cfg.concurrency
    eps: dict[str, list[float]] = {"courier": [], "celery_noop": [], "kombu_raw": []}
    memory: dict[str, float] = {}
    urls = dict(zip(eps, ctx.vhost_urls(len(eps)), strict=True))
    prefetch = 4 * c  # Celery: multiplier 4 x processes; kombu: 4 per process
    with phase("consume/start"):
        held = {
            "courier": Held(
                "courier-worker",
                urls["courier"],
                [
                    celery_worker(
                        ctx,
                        "courier-worker",
                        "courier_worker.celery_app:app",
                        concurrency=c,
                        env=ctx.worker_env(RABBITMQ_URL=urls["courier"]),
                    )
                ],
                1,
                prefetch,
                records=True,
            ),
            "celery_noop": Held(
                "celery-noop",
                urls["celery_noop"],
                [
                    celery_worker(
                        ctx,
                        "celery-noop",
                        "bench.apps.noop_celery:app",
                        concurrency=c,
                        queues=BULK.name,
                        env=ctx.worker_env(RABBITMQ_URL=urls["celery_noop"]),
                    )
                ],
                1,
                prefetch,
            ),
            "kombu_raw": Held(
                "kombu-raw",
                urls["kombu_raw"],
                [
                    start(
                        ctx.cleanup,
                        f"kombu-raw-{i}",
                        [str(PYTHON), "-m", "bench.apps.kombu_raw"],
                        ctx.worker_env(RABBITMQ_URL=urls["kombu_raw"], BENCH_PREFETCH="4"),
                        ctx.tmp,
                    )
                    for i in range(c)
                ],
                c,
                prefetch,
            ),
        }
        hold(ctx, "consume", list(held.values()))
    try:
        for rep in range(cfg.reps):
            # The same n events for every variant of a repetition (only the
            # Courier worker records them; the next repetition's are new).
            with phase("consume/fill"):
                messages = probes(n, f"c{rep}")
            for variant in rotate(list(eps), rep):
                h = held[variant]
                rate = run_held("consume", ctx, h, messages, timeout=60 + n / 50)
                if variant == "courier":
                    dead, _ = broker.queue_counts(h.url, BULK.dead_letter_queue)
                    if dead:
                        raise RuntimeError(f"{dead} probes were dead-lettered")
                    main = h.procs[0].pid
                    kids = process_stats.children(main)
                    memory = {
                        "worker_main_process": process_stats.rss_mb(main),
                        "worker_process": (
                            max(process_stats.rss_mb(k) for k in kids) if kids else 0.0
                        ),
                    }
                eps[variant].append(rate)
                say(f"consume rep {rep + 1}/{cfg.reps} {variant}: {rate:,.0f} events/s")
    finally:
        retire([p for h in held.values() for p in h.procs])
    return eps, memory


__all__ = ["consume"]
