"""``make bench``: what Courier's reliable path costs against raw baselines, in one run.

``python -m bench [--quick] [--only SECTION ...] [--out PATH]``. Creates
vhosts on the local broker (``RABBITMQ_URL``: one for the run, plus one per
consumer that consume and scaling keep alive side by side) and two
PostgreSQL databases (``POSTGRES_ADMIN_URL``), runs every section, prints the
table and where the time went, and writes ``bench/results/latest.json``;
deletes the vhosts, the databases and every process it started on the way
out, whatever happens.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import infra, sections
from bench.infra import Cleanup, phase, say
from bench.report import Table, goal, paired_ratio, summary, write_json

SECTIONS = ("publish", "consume", "http", "latency", "scaling")
DEFAULT_OUT = infra.ROOT / "bench" / "results" / "latest.json"


def machine(url: str) -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": infra.os.cpu_count() or 0,
        "cpu_model": model,
        "python": platform.python_version(),
        "rabbitmq": infra.broker_version(url),
        "postgresql": infra.sql(infra.postgres_admin_url(), "SHOW server_version")[0][0],
        "kernel": platform.release(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: under a minute")
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--dispatch",
        choices=["auto", "notify", "thread"],
        default="auto",
        help="OUTBOX_DISPATCH of the measured web and relay (default: the deployed default)",
    )
    args = parser.parse_args(argv)
    config = sections.QUICK if args.quick else sections.FULL
    started = time.monotonic()
    with Cleanup() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix="courier-bench-"))
        if not infra.os.environ.get("BENCH_KEEP_LOGS"):  # keep the processes' logs to debug
            cleanup.push(f"temp dir {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
        base = infra.broker_base_url()
        with phase("setup"):
            # consume keeps 3 consumers alive side by side, scaling 3 (+2 extras in
            # a full run), each on a vhost of its own; the run's vhost is one of them.
            held = max(
                3 if "consume" in args.only else 1,
                (3 if config.quick else 5) if "scaling" in args.only else 1,
            )
            names = [infra.new_vhost_name() for _ in range(held)]
            urls = [infra.vhost_url(base, name) for name in names]
            ctx = sections.Context(
                config=config,
                cleanup=cleanup,
                tmp=tmp,
                url=urls[0],
                web_db=infra.create_database(cleanup, "courier_bench_web"),
                worker_db=infra.create_database(cleanup, "courier_bench_worker"),
                run_id=uuid.uuid4().hex[:6],
                dispatch=args.dispatch,
                spare_urls=urls[1:],
                web_kinds=tuple(
                    dict.fromkeys(
                        [
                            *(sections.LATENCY_WEB if "latency" in args.only else ()),
                            *(sections.HTTP_WEB if "http" in args.only else ()),
                        ]
                    )
                ),
            )
            migrate = sections.start_migrate(ctx)  # meanwhile, the vhosts
            try:
                infra.create_vhosts(cleanup, base, names)
            except BaseException:
                migrate.kill()
                migrate.wait(10)
                raise
            doc: dict[str, Any] = {"machine": machine(ctx.url), "dispatch": args.dispatch}
            say(f"machine: {doc['machine']}; {'QUICK' if config.quick else 'full'} run")
            sections.prepare(ctx, migrate)
        table = Table()
        detail: dict[str, Any] = {"config": vars(config)}
        memory: dict[str, float] = {}
        if "publish" in args.only:
            with phase("publish"):
                eps = sections.publish(ctx)
            _publish(eps, config, doc, table, detail)
        if "consume" in args.only:
            with phase("consume"):
                eps, mem = sections.consume(ctx)
            memory.update(mem)
            _consume(eps, doc, table, detail)
        if "latency" in args.only:
            with phase("latency"):
                runs = sections.latency(ctx)
            _latency(runs, config.latency_rate, doc, table, detail)
        if "http" in args.only:
            with phase("http"):
                rps, mem = sections.http_and_middleware(ctx)
            memory.update(mem)
            _http(rps, doc, table, detail)
        if ctx.web:  # shared by latency and http
            with phase("http" if "http" in args.only else "latency"):
                sections.stop_web(ctx)
        if "scaling" in args.only:
            with phase("scaling"):
                eps = sections.scaling(ctx)
            _scaling(eps, config, doc, table, detail)
        with phase("teardown"):
            infra.reap()
        if memory:
            doc["memory_mb"] = {k: round(v, 1) for k, v in memory.items()}
            table.section("memory (RSS after load, MiB)")
            for key, value in doc["memory_mb"].items():
                table.add(key, {"median": value, "min": value, "max": value}, "MiB")
        doc["quick"] = config.quick
        doc["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc["duration_s"] = round(time.monotonic() - started, 1)
        doc["timing_s"] = timing(doc["duration_s"])
        doc["detail"] = detail
        doc["table_markdown"] = table.markdown()
        write_json(args.out, doc)
        m = doc["machine"]
        print(
            f"\nmachine: {m['cpus']} x {m['cpu_model']}, Python {m['python']}, "
            f"RabbitMQ {m['rabbitmq']}, PostgreSQL {m['postgresql']}"
            f"{' (QUICK sizes)' if config.quick else ''}"
        )
        print(table.render())
        print(f"\nwhere the time went (s): {timing_line(doc['timing_s'])}")
        print(f"\nwrote {args.out} in {doc['duration_s']} s")
    return 0


def timing(total: float) -> dict[str, Any]:
    """Wall seconds per section and, within it, per phase (``infra.phase``)."""
    out: dict[str, Any] = {"total": total}
    for name, seconds in infra.TIMINGS.items():
        section, _, what = name.partition("/")
        out.setdefault(section, {})[what or "total"] = seconds
    for section, entry in list(out.items())[1:]:
        whole = entry.pop("total", sum(entry.values()))
        parts = {what: round(seconds, 1) for what, seconds in entry.items()}
        if parts:
            parts["other"] = round(whole - sum(entry.values()), 1)
        out[section] = {"total": round(whole, 1), **parts}
    return out


def timing_line(timings: dict[str, Any]) -> str:
    parts = []
    for section, entry in timings.items():
        if section == "total":
            continue
        inner = ", ".join(f"{k} {v:g}" for k, v in entry.items() if k != "total")
        parts.append(f"\n  {section} {entry.get('total', 0):g}" + (f" ({inner})" if inner else ""))
    return f"total {timings['total']:g}" + "".join(parts)


def _publish(
    eps: dict[str, list[float]],
    config: sections.Config,
    doc: dict[str, Any],
    table: Table,
    detail: dict,
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


def _consume(eps: dict[str, list[float]], doc: dict[str, Any], table: Table, detail: dict) -> None:
    fig = {name: summary(values) for name, values in eps.items()}
    ratio = paired_ratio(eps["courier"], eps["celery_noop"])
    doc["consume"] = {
        "courier_eps": fig["courier"]["median"],
        "celery_noop_eps": fig["celery_noop"]["median"],
        "kombu_raw_eps": fig["kombu_raw"]["median"],
        "ratio_vs_celery": ratio["median"],
    }
    detail["consume"] = {**fig, "ratio_vs_celery": ratio}
    table.section("consume (events/s, prefork x2)")
    table.add("courier worker (probe events)", fig["courier"], "events/s")
    table.add("bare celery no-op task", fig["celery_noop"], "events/s")
    table.add("raw kombu, manual acks", fig["kombu_raw"], "events/s")
    table.add("ratio courier / celery", ratio, "", goal(ratio["median"], ">=", 0.8), 2)


def _latency(
    runs: dict[str, list[dict]], rate: float, doc: dict[str, Any], table: Table, detail: dict
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


def _http(rps: dict[str, list[float]], doc: dict[str, Any], table: Table, detail: dict) -> None:
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
    table.section("http: POST /api/users under gunicorn (2 sync workers)")
    table.add("events on (the relay publishing on the same cores)", fig["events_on"], "req/s")
    table.add("event receiver disconnected", fig["events_off"], "req/s")
    table.add("ratio on / off", events, "", goal(events["median"], ">=", 0.9), 2)
    table.add("events on, relay paused (extra)", fig["events_on_relay_paused"], "req/s")
    table.add("ratio on, relay paused / off (the request's own cost)", request_only, "", "", 2)
    table.section("middleware: GET /healthz under gunicorn (2 sync workers)")
    table.add("full stack (base settings)", fig["full"], "req/s")
    table.add("no middleware (bare settings)", fig["bare"], "req/s")
    table.add("ratio full / bare", middleware, "", goal(middleware["median"], ">=", 0.85), 2)


def _scaling(
    eps: dict[str, list[float]],
    config: sections.Config,
    doc: dict[str, Any],
    table: Table,
    detail: dict,
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


if __name__ == "__main__":
    sys.exit(main())
