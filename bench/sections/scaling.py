"""scaling: a worker whose handler waits on I/O, with 1, 2 and 4 prefork processes.

The worker is ``bench/apps/io_worker.py``: the Courier app with a handler of
the bench's own event (``bench.events.IoProbeSent``) that waits
``io_wait_ms`` per event.
"""

from __future__ import annotations

from courier_worker.queues import BULK, CRITICAL

from bench import broker
from bench.events import IoProbeSent
from bench.processes import retire
from bench.progress import phase, say
from bench.publishing import probes
from bench.sections.consumers import Held, celery_worker, hold, run_held
from bench.sections.context import Context, rotate


def scaling(ctx: Context) -> dict[str, list[float]]:
    """Events per second of each pool configuration (``prefork:1``, ...), per repetition."""
    cfg = ctx.config
    ideal_per_proc = 1000.0 / cfg.io_wait_ms
    configs = [("prefork", 1), ("prefork", 2), ("prefork", 4)]
    if not cfg.quick:  # extras for the pool-choice paragraph of docs/performance.md
        configs += [("threads", 4), ("threads", 8)]
    eps: dict[str, list[float]] = {f"{p}:{c}": [] for p, c in configs}
    urls = dict(zip(configs, ctx.vhost_urls(len(configs)), strict=True))
    for url in urls.values():  # nothing left from earlier sections for the Courier app
        broker.purge(url, BULK.name, CRITICAL.name)
    with phase("scaling/start"):
        held = {
            (pool, procs): Held(
                f"io-{pool}-{procs}",
                urls[pool, procs],
                [
                    celery_worker(
                        ctx,
                        f"io-{pool}-{procs}",
                        "bench.apps.io_worker:app",
                        concurrency=procs,
                        pool=pool,
                        env=ctx.worker_env(
                            BENCH_IO_WAIT_MS=str(cfg.io_wait_ms), RABBITMQ_URL=urls[pool, procs]
                        ),
                    )
                ],
                1,
                4 * procs,
                records=True,
            )
            for pool, procs in configs
        }
        hold(ctx, "scaling", list(held.values()))
    try:
        for rep in range(cfg.reps):
            # The threads extras run once: they inform the pool-choice paragraph, no goal.
            planned = configs if rep == 0 else [c for c in configs if c[0] == "prefork"]
            for pool, procs in rotate(planned, rep):
                n = max(50, int(ideal_per_proc * procs * cfg.scaling_seconds))
                with phase("scaling/fill"):
                    messages = probes(n, f"s{rep}{pool}{procs}", event=IoProbeSent)
                rate = run_held("scaling", ctx, held[pool, procs], messages, timeout=60 + n / 10)
                eps[f"{pool}:{procs}"].append(rate)
                say(
                    f"scaling rep {rep + 1}/{cfg.reps} {pool} x{procs}: {rate:,.1f} events/s "
                    f"(ideal {ideal_per_proc * procs:,.0f})"
                )
    finally:
        retire([p for h in held.values() for p in h.procs])
    return eps


__all__ = ["scaling"]
