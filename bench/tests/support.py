"""Running the bench's tools; listing what bench runs leave on the broker and database."""

from __future__ import annotations

import subprocess

import psycopg
import pytest

from bench import databases
from bench.paths import PYTHON, ROOT


def run_tool(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``python -m <argv>`` from the repository root, as ``make`` runs it; fails with its stderr."""
    done = subprocess.run(
        [str(PYTHON), "-m", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-40:])
        pytest.fail(f"python -m {' '.join(argv)} exited {done.returncode}:\n{tail}")
    return done


def bench_vhosts() -> set[str]:
    """The vhosts on the local broker that a bench run creates (``courier-bench-*``)."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_vhosts", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {name for name in listed.stdout.split() if name.startswith("courier-bench-")}


def bench_databases() -> set[str]:
    """The databases on the local PostgreSQL that a bench run creates (``courier_bench_*``)."""
    with psycopg.connect(databases.postgres_admin_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'courier\\_bench\\_%'"
        ).fetchall()
    return {name for (name,) in rows}
