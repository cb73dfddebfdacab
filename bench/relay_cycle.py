"""The relay's cost per one-row cycle, in-process: ``python -m bench.relay_cycle``.

One cycle is what the relay does per NOTIFY under a trickle of commits: claim
one row by id, publish it, wait for its confirm, mark it sent, commit
(``outbox_publish_ids``). Creates its own vhost and databases (as ``make
bench`` does), writes ``--rows`` pending rows, then runs one cycle per row,
twice (the two runs show the spread), and prints CPU and wall time per
cycle. Same clean-up guarantees as ``python -m bench``; the set-up is the
bench's own (``sections.prepare``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from courier_worker.queues import BULK

from bench import broker, databases, sections, vhosts
from bench.cleanup import Cleanup
from bench.paths import ROOT
from bench.progress import say

RUNS = 2
#: Cycles before each measured run: connections, caches and plans warmed up.
WARM_UP = 50


def _measure(rows: int) -> None:
    """In the child (Django set up): per-cycle CPU and wall time of ``RUNS`` runs."""
    import django

    django.setup()
    from courier_web.outbox.broker import BrokerOptions
    from courier_web.outbox.publisher import PikaPublisher
    from courier_web.outbox.publishing import outbox_publish_ids
    from courier_web.outbox.writing import outbox_enqueue
    from django.db import transaction
    from shared_contracts import ProbeSent

    publisher = PikaPublisher(BrokerOptions.from_settings(connection_name="bench relay_cycle"))
    if (error := publisher.connect()) is not None:
        raise SystemExit(f"broker: {error}")
    for run in range(1, RUNS + 1):
        with transaction.atomic():
            pks = [
                outbox_enqueue(ProbeSent(sequence=i, note="cycle"), correlation_id=f"cycle-{i}").pk
                for i in range(rows + WARM_UP)
            ]
        for pk in pks[:WARM_UP]:
            outbox_publish_ids(ids=[pk], publisher=publisher)
        wall, cpu = time.perf_counter(), time.process_time()
        for pk in pks[WARM_UP:]:
            if outbox_publish_ids(ids=[pk], publisher=publisher).sent != 1:
                raise SystemExit(f"row {pk} was not published")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"run {run}  {1e6 * cpu / rows:6.0f} us CPU  {1e6 * wall / rows:6.0f} us wall per cycle"
        )
    publisher.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_cycle")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _measure(args.rows)
        return
    with Cleanup() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix="courier-cycle-"))
        cleanup.push(f"temp dir {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
        _, url = vhosts.create_vhost(cleanup, vhosts.broker_base_url())
        ctx = sections.Context(
            config=sections.QUICK,
            cleanup=cleanup,
            tmp=tmp,
            url=url,
            web_db=databases.create_database(cleanup, "courier_bench_cycle_web"),
            worker_db=databases.create_database(cleanup, "courier_bench_cycle_worker"),
            run_id=uuid.uuid4().hex[:6],
        )
        sections.prepare(ctx)
        say(f"{args.rows} one-row cycles, {RUNS} runs")
        subprocess.run(
            [sys.executable, "-m", "bench.relay_cycle", "--child", "--rows", str(args.rows)],
            env=ctx.web_env(OUTBOX_DISPATCH="off", LOG_LEVEL="WARNING"),
            check=True,
            timeout=600,
            cwd=ROOT,
        )
        broker.purge(url, BULK.name)


if __name__ == "__main__":
    main()
