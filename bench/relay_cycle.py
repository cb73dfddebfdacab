"""The relay's cost per one-row cycle, in-process: ``python -m bench.relay_cycle``.

One cycle is what the relay does per NOTIFY under a trickle of commits: claim
one row by id, publish it, wait for its confirm, mark it sent, commit
(``outbox_publish_ids``). Creates its own vhost and databases (as ``make
bench`` does), writes ``--rows`` pending rows, then runs one cycle per row,
alternating the written-SQL claims of ``outbox/claims.py`` with the ORM path
they replaced, and prints CPU and wall time per cycle for each. Same clean-up
guarantees as ``python -m bench``; the set-up is the bench's own
(``sections.prepare``).
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

from bench import infra, sections
from bench.infra import Cleanup, say

PATHS = ("sql", "orm")


def _measure(rows: int) -> None:
    """In the child (Django set up): per-cycle CPU and wall time of each path, twice."""
    import django

    django.setup()
    from courier_web.outbox import claims
    from courier_web.outbox.broker import BrokerOptions
    from courier_web.outbox.publisher import PikaPublisher
    from courier_web.outbox.services import outbox_enqueue, outbox_publish_ids
    from django.db import transaction
    from shared_contracts import ProbeSent

    publisher = PikaPublisher(BrokerOptions.from_settings(connection_name="bench relay_cycle"))
    if (error := publisher.connect()) is not None:
        raise SystemExit(f"broker: {error}")
    warm = 50
    for path in (*PATHS, *PATHS):
        claims._postgres = lambda path=path: path == "sql"  # type: ignore[assignment]
        with transaction.atomic():
            pks = [
                outbox_enqueue(ProbeSent(sequence=i, note="cycle"), correlation_id=f"cycle-{i}").pk
                for i in range(rows + warm)
            ]
        for pk in pks[:warm]:
            outbox_publish_ids(ids=[pk], publisher=publisher)
        wall, cpu = time.perf_counter(), time.process_time()
        for pk in pks[warm:]:
            if outbox_publish_ids(ids=[pk], publisher=publisher).sent != 1:
                raise SystemExit(f"row {pk} was not published")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{path}  {1e6 * cpu / rows:6.0f} us CPU  {1e6 * wall / rows:6.0f} us wall per cycle")
    publisher.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_cycle")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _measure(args.rows)
        return
    with Cleanup() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix="courier-cycle-"))
        cleanup.push(f"temp dir {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
        _, url = infra.create_vhost(cleanup, infra.broker_base_url())
        ctx = sections.Context(
            sections.QUICK,
            cleanup,
            tmp,
            url,
            infra.create_database(cleanup, "courier_bench_cycle_web"),
            infra.create_database(cleanup, "courier_bench_cycle_worker"),
            uuid.uuid4().hex[:6],
        )
        sections.prepare(ctx)
        say(f"{args.rows} one-row cycles per path, twice, alternating")
        subprocess.run(
            [sys.executable, "-m", "bench.relay_cycle", "--child", "--rows", str(args.rows)],
            env=ctx.web_env(OUTBOX_DISPATCH="off", LOG_LEVEL="WARNING"),
            check=True,
            timeout=600,
            cwd=infra.ROOT,
        )
        infra.purge(url, sections.BULK)


if __name__ == "__main__":
    main()
