"""``make bench``: what Courier's reliable path costs against raw baselines, in one run.

``python -m bench [--quick | --smoke] [--only SECTION ...] [--out PATH]``.
Creates vhosts on the local broker (``RABBITMQ_URL``: one for the run, plus
one per consumer that consume and scaling keep alive side by side) and two
PostgreSQL databases (``POSTGRES_ADMIN_URL``), runs every section, prints the
table and where the time went, and writes ``bench/results/latest.json``;
deletes the vhosts, the databases and every process it started on the way
out, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import broker, databases, figures, processes, sections, vhosts
from bench.cleanup import Cleanup
from bench.paths import ROOT
from bench.progress import breakdown, breakdown_line, phase, say
from bench.report import Table, write_json

SECTIONS = ("publish", "consume", "http", "latency", "isolation", "scaling")
DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"


def machine(url: str) -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count() or 0,
        "cpu_model": model,
        "python": platform.python_version(),
        "rabbitmq": broker.broker_version(url),
        "postgresql": databases.sql(databases.postgres_admin_url(), "SHOW server_version")[0][0],
        "kernel": platform.release(),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes: under a minute")
    size.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: checks that every section starts and reports; figures mean nothing",
    )
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--dispatch",
        choices=["auto", "notify", "thread"],
        default="auto",
        help="OUTBOX_DISPATCH of the measured web and relay (default: the deployed default)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = sections.SMOKE if args.smoke else sections.QUICK if args.quick else sections.FULL
    started = time.monotonic()
    with Cleanup() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix="courier-bench-"))
        if not os.environ.get("BENCH_KEEP_LOGS"):  # keep the processes' logs to debug
            cleanup.push(f"temp dir {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
        with phase("setup"):
            ctx, migrate = _set_up(args, config, cleanup, tmp)
            doc: dict[str, Any] = {"machine": machine(ctx.url), "dispatch": args.dispatch}
            say(f"machine: {doc['machine']}; {config.name} run")
            sections.prepare(ctx, migrate)
        table = Table()
        detail: dict[str, Any] = {"config": vars(config)}
        memory: dict[str, float] = {}
        if "publish" in args.only:
            with phase("publish"):
                eps = sections.publish(ctx)
            figures.publish_figures(eps, config, doc, table, detail)
        if "consume" in args.only:
            with phase("consume"):
                eps, mem = sections.consume(ctx)
            memory.update(mem)
            figures.consume_figures(eps, config, doc, table, detail)
        if "latency" in args.only:
            with phase("latency"):
                runs = sections.latency(ctx)
            figures.latency_figures(runs, config.latency_rate, doc, table, detail)
        if "isolation" in args.only:
            with phase("isolation"):
                iso = sections.isolation(ctx)
            figures.isolation_figures(iso, doc, table, detail)
        if "http" in args.only:
            with phase("http"):
                rps, mem = sections.http_and_middleware(ctx)
            memory.update(mem)
            figures.http_figures(rps, config, doc, table, detail)
        if ctx.web:  # shared by latency and http
            with phase("http" if "http" in args.only else "latency"):  # or isolation
                sections.stop_web(ctx)
        if "scaling" in args.only:
            with phase("scaling"):
                eps = sections.scaling(ctx)
            figures.scaling_figures(eps, config, doc, table, detail)
        with phase("teardown"):
            processes.reap()
        if memory:
            figures.memory_figures(memory, doc, table)
        doc["quick"] = config.quick
        doc["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc["duration_s"] = round(time.monotonic() - started, 1)
        doc["timing_s"] = breakdown(doc["duration_s"])
        doc["detail"] = detail
        doc["table_markdown"] = table.markdown()
        write_json(args.out, doc)
        m = doc["machine"]
        print(
            f"\nmachine: {m['cpus']} x {m['cpu_model']}, Python {m['python']}, "
            f"RabbitMQ {m['rabbitmq']}, PostgreSQL {m['postgresql']}"
            f"{f' ({config.name} sizes)' if config.quick else ''}"
        )
        print(table.render())
        print(f"\nwhere the time went (s): {breakdown_line(doc['timing_s'])}")
        print(f"\nwrote {args.out} in {doc['duration_s']} s")
    return 0


def _set_up(
    args: argparse.Namespace, config: sections.Config, cleanup: Cleanup, tmp: Path
) -> tuple[sections.Context, subprocess.Popen[bytes]]:
    """The run's databases and vhosts; the web database's migration started, not waited for."""
    base = vhosts.broker_base_url()
    # consume keeps 3 consumers alive side by side, scaling 3 (+2 extras in
    # a full run), each on a vhost of its own; the run's vhost is one of them.
    held = max(
        3 if "consume" in args.only else 1,
        (3 if config.quick else 5) if "scaling" in args.only else 1,
    )
    names = [vhosts.new_vhost_name() for _ in range(held)]
    urls = [vhosts.vhost_url(base, name) for name in names]
    web_kinds = [
        *(sections.LATENCY_WEB if {"latency", "isolation"} & set(args.only) else ()),
        *(sections.HTTP_WEB if "http" in args.only else ()),
    ]
    ctx = sections.Context(
        config=config,
        cleanup=cleanup,
        tmp=tmp,
        url=urls[0],
        web_db=databases.create_database(cleanup, "courier_bench_web"),
        worker_db=databases.create_database(cleanup, "courier_bench_worker"),
        run_id=uuid.uuid4().hex[:6],
        dispatch=args.dispatch,
        spare_urls=urls[1:],
        web_kinds=tuple(dict.fromkeys(web_kinds)),
    )
    migrate = sections.start_migrate(ctx)  # meanwhile, the vhosts
    try:
        vhosts.create_vhosts(cleanup, base, names)
    except BaseException:
        migrate.kill()
        migrate.wait(10)
        raise
    return ctx, migrate


if __name__ == "__main__":
    sys.exit(main())
