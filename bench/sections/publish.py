"""publish: the relay draining the outbox against raw pika and Celery, in a process of its own.

The scenario (``bench.scenarios.publish``) seeds its rows first, on one core:
meanwhile the web servers the later sections need boot. It measures once
they answer and are idle.
"""

from __future__ import annotations

import json
import subprocess

from bench import databases
from bench.paths import PYTHON
from bench.processes import start
from bench.progress import TIMINGS, say
from bench.sections.context import Context
from bench.sections.web_servers import start_web, web_answering


def publish(ctx: Context) -> dict[str, list[float]]:
    """Messages per second of each variant, per repetition."""
    cfg = ctx.config
    out, go = ctx.tmp / "publish.json", ctx.tmp / "publish.go"
    env = ctx.web_env(OUTBOX_DISPATCH="off", LOG_LEVEL="WARNING")
    say(f"publish: {cfg.publish_count} events x {cfg.reps} reps (relay, raw pika, celery)")
    proc = start(
        ctx.cleanup,
        "publish",
        [
            str(PYTHON),
            "-m",
            "bench.scenarios.publish",
            "--count",
            str(cfg.publish_count),
            "--reps",
            str(cfg.reps),
            "--subset",
            str(min(cfg.publish_subset, cfg.publish_count)),
            "--out",
            str(out),
            "--go",
            str(go),
        ],
        env,
        ctx.tmp,
        echo=True,
    )
    start_web(ctx)
    web_answering(ctx)
    go.touch()
    try:
        proc.popen.wait(timeout=60 + cfg.reps * cfg.publish_count * 0.02)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"publish scenario timed out:\n{proc.tail()}") from None
    if proc.popen.returncode != 0:
        raise RuntimeError(f"publish scenario failed:\n{proc.tail(40)}")
    data = json.loads(out.read_text())
    databases.sql(ctx.web_db, "DELETE FROM outbox_outboxmessage")
    for what, seconds in data.get("timing", {}).items():
        TIMINGS[f"publish/{what}"] = seconds
    counts = data.get("counts", {})
    return {
        name: [counts.get(name, data["count"]) / s for s in seconds]
        for name, seconds in data["seconds"].items()
    }


__all__ = ["publish"]
