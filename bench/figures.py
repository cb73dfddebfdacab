"""Each section's repetitions into figures: the entries of ``latest.json`` and the table rows.

Every ratio is taken within one repetition (``report.paired_ratio``) and
every goal is the one ``docs/performance.md`` sets for its section.
"""

from __future__ import annotations

from typing import Any

from bench.report import Table, goal, paired_ratio, summary
from bench.sections import Config


def publish_figures(
    eps: dict[str, list[float]],
    config: Config,
    doc: dict[str, Any],
    table: Table,
    detail: dict[str, Any],
) -> None:
    fig = {name: summary(values) for name, values in eps.items()}
    ratio = paired_ratio(eps["courier"], eps["raw_pika"])
    doc["publish"] = {
        "courier_eps": fig["courier"]["median"],
        "raw_pika_eps": fig["raw_pika"]["median"],
        "celery_confirmed_eps": fig["celery_confirmed"]["median"],
        "ratio": ratio["median"],
        "raw_pika_windowed_eps": fig["raw_pika_windowed"]["median"],
        "raw_pika_sync_eps": fig["raw_pika_sync"]["median"],
        "courier_vs_celery": paired_ratio(eps["courier"], eps["celery_confirmed"])["median"],
    }
    detail["publish"] = {**fig, "ratio": ratio}
    table.section("publish (msg/s until every message is confirmed)")
    table.add("courier relay", fig["courier"], "msg/s")
    table.add("raw pika, same strategy (batched confirms)", fig["raw_pika"], "msg/s")
    subset_count = min(config.publish_subset, config.publish_count)
    subset = f", first {subset_count:,}" if subset_count < config.publish_count else ""
    table.add(f"celery send_task confirm_publish{subset}", fig["celery_confirmed"], "msg/s")
    table.add("raw pika, sliding window of 256 (extra)", fig["raw_pika_windowed"], "msg/s")
    table.add(f"raw pika, confirm per message (extra{subset})", fig["raw_pika_sync"], "msg/s")
    table.add("ratio courier / raw pika", ratio, "", goal(ratio["median"], ">=", 0.8), 2)


def consume_figures(
    eps: dict[str, list[float]],
    config: Config,
    doc: dict[str, Any],
    table: Table,
    detail: dict[str, Any],
) -> None:
    fig = {name: summary(values) for name, values in eps.items()}
    ratio = paired_ratio(eps["courier"], eps["celery_noop"])
    doc["consume"] = {
        "courier_eps": fig["courier"]["median"],
        "celery_noop_eps": fig["celery_noop"]["median"],
        "kombu_raw_eps": fig["kombu_raw"]["median"],
        "ratio_vs_celery": ratio["median"],
    }
    detail["consume"] = {**fig, "ratio_vs_celery": ratio}
    table.section(f"consume (events/s, prefork x{config.concurrency})")
    table.add("courier worker (probe events)", fig["courier"], "events/s")
    table.add("bare celery no-op task", fig["celery_noop"], "events/s")
    table.add("raw kombu, manual acks", fig["kombu_raw"], "events/s")
    table.add("ratio courier / celery", ratio, "", goal(ratio["median"], ">=", 0.8), 2)


def latency_figures(
    runs: dict[str, list[dict[str, float]]],
    rate: float,
    doc: dict[str, Any],
    table: Table,
    detail: dict[str, Any],
) -> None:
    doc["latency_ms"] = {"offered_eps": rate}
    table.section("latency, commit-to-handled (HTTP response -> worker event.handled)")
    for variant, label in (("courier", "courier"), ("naive_delay", "naive send_task")):
        figs = {p: summary([r[p] for r in runs[variant]]) for p in ("p50", "p95", "p99")}
        doc["latency_ms"][variant] = {p: f["median"] for p, f in figs.items()}
        for p, f in figs.items():
            target = ""
            if variant == "courier" and p == "p99":
                target = goal(f["median"], "<=", 100)
            table.add(f"{label} {p}", f, "ms", target)
    ratio = paired_ratio(
        [r["p50"] for r in runs["courier"]], [r["p50"] for r in runs["naive_delay"]]
    )
    table.add("p50 courier / naive", ratio, "", goal(ratio["median"], "<=", 1.5), 2)
    doc["latency_ms"]["p50_ratio"] = ratio["median"]
    detail["latency"] = runs


def isolation_figures(
    runs: dict[str, dict[str, float]], doc: dict[str, Any], table: Table, detail: dict[str, Any]
) -> None:
    """Welcome-email latency idle and under a bulk backlog, per worker deployment."""
    doc["isolation_ms"] = {}
    table.section("isolation: welcome email latency, idle and under a newsletter backlog")
    labels = {"shared": "one worker, both queues", "separate": "a worker per queue"}
    for variant, label in labels.items():
        run = runs[variant]
        doc["isolation_ms"][variant] = {
            key: run[key] for key in ("idle_p50", "idle_p99", "backlog_p50", "backlog_p99")
        }
        doc["isolation_ms"][variant]["p99_ratio"] = run["p99_ratio"]
        for key in ("idle_p50", "idle_p99", "backlog_p50", "backlog_p99"):
            table.add(f"{label}: {key.replace('_', ' ')}", summary([run[key]]), "ms")
        target = goal(run["p99_ratio"], "<=", 1.5) if variant == "separate" else ""
        table.add(f"{label}: p99 backlog / idle", summary([run["p99_ratio"]]), "", target, 2)
    detail["isolation"] = runs


def http_figures(
    rps: dict[str, list[float]],
    config: Config,
    doc: dict[str, Any],
    table: Table,
    detail: dict[str, Any],
) -> None:
    fig = {name: summary(values) for name, values in rps.items()}
    events = paired_ratio(rps["events_on"], rps["events_off"])
    middleware = paired_ratio(rps["full"], rps["bare"])
    request_only = paired_ratio(rps["events_on_relay_paused"], rps["events_off"])
    doc["http"] = {
        "events_on_rps": fig["events_on"]["median"],
        "events_off_rps": fig["events_off"]["median"],
        "ratio": events["median"],
        "events_on_relay_paused_rps": fig["events_on_relay_paused"]["median"],
        "ratio_relay_paused": request_only["median"],
    }
    doc["middleware"] = {
        "full_rps": fig["full"]["median"],
        "bare_rps": fig["bare"]["median"],
        "ratio": middleware["median"],
    }
    detail["http"] = {
        **fig,
        "events_ratio": events,
        "middleware_ratio": middleware,
        "request_only_ratio": request_only,
    }
    workers = config.web_workers
    server = f"under gunicorn ({workers} sync worker{'s' if workers > 1 else ''})"
    table.section(f"http: POST /api/users {server}")
    table.add("events on (the relay publishing on the same cores)", fig["events_on"], "req/s")
    table.add("event receiver disconnected", fig["events_off"], "req/s")
    table.add("ratio on / off", events, "", goal(events["median"], ">=", 0.9), 2)
    table.add("events on, relay paused (extra)", fig["events_on_relay_paused"], "req/s")
    table.add("ratio on, relay paused / off (the request's own cost)", request_only, "", "", 2)
    table.section(f"middleware: GET /healthz {server}")
    table.add("full stack (base settings)", fig["full"], "req/s")
    table.add("no middleware (bare settings)", fig["bare"], "req/s")
    table.add("ratio full / bare", middleware, "", goal(middleware["median"], ">=", 0.85), 2)


def scaling_figures(
    eps: dict[str, list[float]],
    config: Config,
    doc: dict[str, Any],
    table: Table,
    detail: dict[str, Any],
) -> None:
    fig = {name: summary(values) for name, values in eps.items()}
    efficiency = summary(
        [b / (4 * a) for a, b in zip(eps["prefork:1"], eps["prefork:4"], strict=True)]
    )
    doc["scaling"] = {
        "io_bound_eps": {str(n): fig[f"prefork:{n}"]["median"] for n in (1, 2, 4)},
        "efficiency_4": efficiency["median"],
        "threads_eps": {
            n: fig[f"threads:{n}"]["median"] for n in ("4", "8") if f"threads:{n}" in fig
        },
        "io_wait_ms": config.io_wait_ms,
    }
    detail["scaling"] = {**fig, "efficiency_4": efficiency}
    table.section(f"scaling: handler waiting {config.io_wait_ms:g} ms per event (events/s)")
    for n in (1, 2, 4):
        table.add(f"prefork, {n} process{'es' if n > 1 else ''}", fig[f"prefork:{n}"], "events/s")
    table.add(
        "efficiency_4 = eps(4) / (4 x eps(1))",
        efficiency,
        "",
        goal(efficiency["median"], ">=", 0.85),
        2,
    )
    for n in (n for n in (4, 8) if f"threads:{n}" in fig):
        table.add(f"threads pool, {n} threads (extra)", fig[f"threads:{n}"], "events/s")


def memory_figures(memory: dict[str, float], doc: dict[str, Any], table: Table) -> None:
    doc["memory_mb"] = {k: round(v, 1) for k, v in memory.items()}
    table.section("memory (RSS after load, MiB)")
    for key, value in doc["memory_mb"].items():
        table.add(key, {"median": value, "min": value, "max": value}, "MiB")


__all__ = [
    "consume_figures",
    "http_figures",
    "latency_figures",
    "memory_figures",
    "publish_figures",
    "scaling_figures",
]
