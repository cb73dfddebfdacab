"""latency: commit-to-handled, from the HTTP response to the worker's ``event.handled`` line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from courier_worker.queues import CRITICAL

from bench import broker, loadgen
from bench.processes import retire, wait_quiet, wait_until
from bench.progress import phase, say
from bench.report import percentile
from bench.sections.consumers import celery_worker
from bench.sections.context import Context, rotate
from bench.sections.http_requests import register_user_tagged
from bench.sections.web_servers import LATENCY_WEB, web_answering, web_procs, web_stack


class HandledLog:
    """The worker's ``event.handled`` lines, read as the log grows: correlation_id -> wall time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.found: dict[str, float] = {}

    def update(self) -> dict[str, float]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        end = data.rfind(b"\n") + 1  # complete lines only
        self.offset += end
        for line in data[:end].decode(errors="replace").splitlines():
            if '"event.handled"' not in line:
                continue
            record = json.loads(line)
            stamp = datetime.fromisoformat(record["timestamp"]).timestamp()
            self.found[record["correlation_id"]] = stamp
        return self.found


def latency(ctx: Context) -> dict[str, list[dict[str, float]]]:
    """Per variant (``courier``, ``naive_delay``) and repetition: percentiles in ms and counts."""
    cfg = ctx.config
    with phase("latency/start"):
        worker = celery_worker(
            ctx,
            "latency-worker",
            "courier_worker.celery_app:app",
            concurrency=cfg.concurrency,
            env=ctx.worker_env(LOG_LEVEL="INFO", MAIL_DIR=str(ctx.tmp / "mail")),
        )
        servers = web_stack(ctx, LATENCY_WEB)
        web_answering(ctx)  # reaps the previous section's consumers too
        wait_until(
            "latency worker consuming",
            lambda: broker.queue_counts(ctx.url, CRITICAL.name)[1] > 0,
            60,
            worker,
        )
        wait_quiet([worker, *web_procs(ctx)], "the latency processes' start-up")
    results: dict[str, list[dict[str, float]]] = {"courier": [], "naive_delay": []}
    ports = {"courier": servers["base"][1], "naive_delay": servers["naive"][1]}
    log = HandledLog(worker.log_path)

    def offer(variant: str, tag: str, seconds: float, what: str) -> tuple[float, list[float]]:
        """Register at the offered rate: (achieved rate, ms from each response to its
        ``event.handled``), once every event is handled."""
        with phase(f"latency/{what}"):
            samples = loadgen.open_loop(
                ports[variant], register_user_tagged(tag), rate=cfg.latency_rate, seconds=seconds
            )
        bad = [s for s in samples if s.status != 201]
        if bad:
            raise RuntimeError(f"latency {variant}: {len(bad)} requests failed")
        wanted = {f"{tag}x{s.index}": s for s in samples}
        with phase("latency/wait handled"):
            wait_until(
                f"{variant} events handled",
                lambda: all(key in log.update() for key in wanted),
                60,
                worker,
            )
        ms = [(log.found[key] - s.responded) * 1000 for key, s in wanted.items()]
        return len(samples) / (samples[-1].responded - samples[0].responded), ms

    # Warm-up at the offered rate, discarded: lazy connections (the relay's,
    # Celery's producer in the naive web) and the pool children's first events
    # would otherwise land in the first repetition's tail. Over once every
    # warm-up event is handled.
    for variant in ports:
        offer(variant, f"warm{ctx.run_id}{variant[0]}", cfg.warmup_seconds, "warm-up")
    for rep in range(cfg.reps):
        for variant in rotate(list(results), rep):
            tag = f"lat{ctx.run_id}{variant[0]}{rep}"
            achieved_rate, ms = offer(variant, tag, cfg.latency_seconds, "measured")
            figure = {f"p{p}": percentile(ms, p) for p in (50, 95, 99)}
            (ctx.tmp / f"{tag}.json").write_text(json.dumps(ms))
            figure.update(
                count=len(ms),
                min=min(ms),
                max=max(ms),
                over_100=sum(m > 100 for m in ms),
                achieved_rate=achieved_rate,
            )
            results[variant].append(figure)
            say(
                f"latency rep {rep + 1}/{cfg.reps} {variant}: p50 {figure['p50']:.1f} ms "
                f"p95 {figure['p95']:.1f} p99 {figure['p99']:.1f} ({len(ms)} events)"
            )
    retire([worker])
    return results


__all__ = ["HandledLog", "latency"]
