"""Profiles behind docs/performance.md: py-spy samples of the process that limits a figure.

``python -m bench.profile SECTION --py-spy PATH`` (py-spy is not a project
dependency: ``python3 -m venv /tmp/pyspy && /tmp/pyspy/bin/pip install py-spy``).
SECTION is ``publish`` (the relay draining rows), ``consume`` (a Courier
worker pool child on probe events), ``http`` (gunicorn workers on
``POST /api/users``), ``relay`` (the relay publishing those registrations as they
commit, woken by NOTIFY) or ``middleware`` (gunicorn workers on ``GET /healthz``).
Prints the functions with the largest inclusive share of samples.
Same clean-up guarantees as ``python -m bench``.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from courier_worker.queues import BULK

from bench import broker, databases, loadgen, process_stats, publishing, sections, vhosts
from bench.cleanup import Cleanup
from bench.paths import BIN, PYTHON
from bench.processes import start, wait_until
from bench.progress import say
from bench.sections.consumers import celery_worker
from bench.sections.http_requests import healthz, register_user
from bench.sections.web_servers import gunicorn, wait_http

_LINE = re.compile(r":\d+\)$")


def summarize(raw: Path, top: int, within: str | None = None) -> str:
    """Inclusive share of samples per function (py-spy raw/collapsed format)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        frames = [_LINE.sub(")", f) for f in stack.split(";")]
        if within and not any(within in f for f in frames):
            continue
        count = int(count_text)
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples{f' under {within}' if within else ''}", "incl%  self%  function"]
    for frame, count in inclusive.most_common(top):
        lines.append(f"{100 * count / total:5.1f}  {100 * own[frame] / total:5.1f}  {frame}")
    return "\n".join(lines)


def cpu_by_command() -> dict[str, float]:
    """CPU seconds used so far by every process on the machine, summed per command name."""
    ticks = process_stats.clock_ticks()
    used: dict[str, float] = collections.defaultdict(float)
    for pid, name, fields in process_stats.proc_stats():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if "relay_outbox" in words:
            name = "courier-web relay_outbox"
        elif any("gunicorn" in w for w in words[:2]):
            name = "gunicorn"
        used[name] += (int(fields[11]) + int(fields[12])) / ticks
    return used


def cpu_report(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    """Cores used per command over the window (the processes the load kept busy)."""
    used = {name: value - before.get(name, 0.0) for name, value in after.items()}
    busiest = sorted(((value, name) for name, value in used.items() if value > 0), reverse=True)
    lines = [f"cores used over {seconds:g}s, per command"]
    for value, name in busiest[:12]:
        lines.append(f"{value / seconds:5.2f}  {name}")
    return "\n".join(lines)


def record(
    py_spy: str, pid: int, seconds: float, out: Path, *, subprocesses: bool = False
) -> subprocess.Popen[bytes]:
    argv = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--format",
        "raw",
        "--rate",
        "200",
        "--nonblocking",
        "-o",
        str(out),
    ]
    if subprocesses:
        argv.append("--subprocesses")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("section", choices=["publish", "consume", "http", "relay", "middleware"])
    parser.add_argument("--py-spy", required=True)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with Cleanup() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix="courier-profile-"))
        cleanup.push(f"temp dir {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
        _, url = vhosts.create_vhost(cleanup, vhosts.broker_base_url())
        ctx = sections.Context(
            config=sections.FULL,
            cleanup=cleanup,
            tmp=tmp,
            url=url,
            web_db=databases.create_database(cleanup, "courier_prof_web"),
            worker_db=databases.create_database(cleanup, "courier_prof_worker"),
            run_id=uuid.uuid4().hex[:6],
        )
        sections.prepare(ctx)
        raw = tmp / "profile.txt"
        within = None
        if args.section == "publish":
            proc = start(
                cleanup,
                "publish",
                [
                    str(PYTHON),
                    "-m",
                    "bench.scenarios.publish",
                    "--count",
                    "10000",
                    "--reps",
                    "1",
                    "--out",
                    str(tmp / "p.json"),
                    "--variants",
                    "courier",
                ],
                ctx.web_env(OUTBOX_DISPATCH="off", LOG_LEVEL="WARNING"),
                tmp,
                echo=True,
            )
            spy = record(args.py_spy, proc.pid, 120, raw)
            proc.popen.wait(180)
            spy.wait(30)
            within = "_relay"
        elif args.section == "consume":
            publishing.publish_raw(url, publishing.probes(10_000, "prof"))
            broker.wait_ready_count(url, BULK.name, 10_000)
            worker = celery_worker(
                ctx, "courier-worker", "courier_worker.celery_app:app", concurrency=2
            )
            wait_until(
                "pool children", lambda: len(process_stats.children(worker.pid)) >= 2, 30, worker
            )
            time.sleep(2)
            child = process_stats.children(worker.pid)[0]
            say(f"profiling pool child {child} for {args.seconds}s")
            record(args.py_spy, child, args.seconds, raw).wait(args.seconds + 30)
        else:
            settings = "courier_web.config.settings.base"
            proc, port = gunicorn(ctx, "web", settings)
            wait_http(proc, port)
            target, subprocesses = proc.pid, True
            if args.section == "relay":
                relay = start(
                    cleanup,
                    "relay",
                    [str(BIN / "courier-web"), "relay_outbox"],
                    ctx.web_env(),
                    tmp,
                )
                target, subprocesses = relay.pid, False
                time.sleep(2)
            make = (
                register_user(f"prof{ctx.run_id}") if args.section in ("http", "relay") else healthz
            )
            served: list[loadgen.ClosedLoopResult] = []
            load = threading.Thread(
                target=lambda: served.append(
                    loadgen.closed_loop(port, make, threads=4, seconds=args.seconds + 4, warmup=0)
                ),
                daemon=True,
            )
            load.start()
            time.sleep(1)
            say(f"profiling {args.section}: process {target} for {args.seconds}s")
            before = cpu_by_command()
            record(args.py_spy, target, args.seconds, raw, subprocesses=subprocesses).wait(
                args.seconds + 30
            )
            print(cpu_report(before, cpu_by_command(), args.seconds))
            load.join(args.seconds + 30)
            if served:
                print(f"load: {served[0].rps:,.0f} req/s over {served[0].seconds:g}s")
        print(summarize(raw, args.top, within))


if __name__ == "__main__":
    main()
