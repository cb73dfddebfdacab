"""The relay's cost per one-row cycle, in-process: ``python -m bench.relay_cycle``.

One cycle is what the relay does per NOTIFY under a trickle of commits: claim
one row by id, publish it, wait for its confirm, mark it sent, commit
(``outbox_publish_ids``). Creates its own vhost and database (as ``make
bench`` does), writes ``--rows`` pending rows, then runs one cycle per row,
alternating the written-SQL claims of ``outbox/claims.py`` with the ORM path
they replaced, and prints CPU and wall time per cycle for each. Same clean-up
guarantees as ``python -m bench``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench import infra, sections
from bench.infra import BIN, Cleanup, say

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
        _, url = infra.create_vhost(cleanup, infra.broker_base_url())
        database = infra.create_database(cleanup, "courier_bench_cycle")
        env = infra.base_env(
            DJANGO_SETTINGS_MODULE="courier_web.config.settings.base",
            DATABASE_URL=database,
            RABBITMQ_URL=url,
            COURIER_WEB_HOME=os.environ.get("TMPDIR", "/tmp") + "/courier-bench-cycle",
            OUTBOX_DISPATCH="off",
            LOG_LEVEL="WARNING",
        )
        say("setup: migrating, declaring the worker's queues")
        subprocess.run(
            [str(BIN / "courier-web"), "migrate", "--noinput", "-v", "0"],
            env=env,
            check=True,
            timeout=180,
            cwd=infra.ROOT,
        )
        infra.declare_worker_queues(url)
        say(f"{args.rows} one-row cycles per path, twice, alternating")
        subprocess.run(
            [sys.executable, "-m", "bench.relay_cycle", "--child", "--rows", str(args.rows)],
            env=env,
            check=True,
            timeout=600,
            cwd=infra.ROOT,
        )
        infra.purge(url, sections.BULK)


if __name__ == "__main__":
    main()
