"""http and middleware: the same gunicorn configuration, with and without events or middleware."""

from __future__ import annotations

from bench import loadgen, process_stats
from bench.progress import phase, say
from bench.sections.context import Context, rotate
from bench.sections.http_requests import healthz, register_user
from bench.sections.web_servers import HTTP_WEB, relay_caught_up, web_answering, web_stack


def http_and_middleware(ctx: Context) -> tuple[dict[str, list[float]], dict[str, float]]:
    """``POST /api/users`` events on/off, and ``GET /healthz`` full/bare, same gunicorn config.

    Eventing includes its publisher: on PostgreSQL that is the relay, woken by
    NOTIFY (OUTBOX_DISPATCH=auto -> notify), so it runs on the same cores
    throughout, for every variant alike. Each server is warmed once (its
    first requests discarded); every run then has a short discarded lead-in
    and its window; after a run that registered users on the eventing server
    the relay catches up before the next run, so its backlog loads no other
    measurement.
    """
    cfg = ctx.config
    with phase("http/start"):
        servers = web_stack(ctx, HTTP_WEB)
        web_answering(ctx)
    relay = ctx.relay
    assert relay is not None
    rps: dict[str, list[float]] = {
        "events_on": [],
        "events_off": [],
        "full": [],
        "bare": [],
        "events_on_relay_paused": [],
    }
    runs = [
        ("events_on", "base", "post"),
        # Extra: the request's own cost, with the relay paused (SIGSTOP) meanwhile.
        ("events_on_relay_paused", "base", "post"),
        ("events_off", "events_off", "post"),
        ("full", "base", "get"),
        ("bare", "bare", "get"),
    ]

    def load(
        figure: str, server: str, kind: str, tag: str, seconds: float, warmup: float
    ) -> loadgen.ClosedLoopResult:
        make = register_user(tag) if kind == "post" else healthz
        result = loadgen.closed_loop(
            servers[server][1], make, threads=cfg.http_threads, seconds=seconds, warmup=warmup
        )
        if result.errors or not result.ok:
            raise RuntimeError(f"{figure}: statuses {result.statuses}")
        return result

    with phase("http/warm-up"):
        for server, kind in dict.fromkeys((server, kind) for _, server, kind in runs):
            tag = f"{ctx.run_id}warm{server}"
            load(f"warm-up {server}", server, kind, tag, cfg.http_prewarm, 0)
        relay_caught_up(ctx)
    for rep in range(cfg.reps):
        for figure, server, kind in rotate(runs, rep):
            paused = figure == "events_on_relay_paused"
            if paused:
                relay.pause()
            try:
                with phase("http/measured"):
                    tag = f"{ctx.run_id}{figure}{rep}"
                    result = load(figure, server, kind, tag, cfg.http_seconds, cfg.http_warmup)
            finally:
                if paused:
                    relay.resume()
            if server == "base" and kind == "post":  # its backlog must not load the next run
                with phase("http/relay catch-up"):
                    relay_caught_up(ctx)
            rps[figure].append(result.rps)
            say(f"http rep {rep + 1}/{cfg.reps} {figure}: {result.rps:,.0f} req/s")
    master = servers["base"][0].pid
    workers = process_stats.children(master)
    memory = {
        "web_process": max(process_stats.rss_mb(w) for w in workers),
        "web_master_process": process_stats.rss_mb(master),
    }
    return rps, memory


__all__ = ["http_and_middleware"]
