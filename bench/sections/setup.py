"""Before the first section: the web database migrated, the worker's table, the queues."""

from __future__ import annotations

import subprocess

from bench import broker
from bench.paths import BIN, ROOT
from bench.progress import say
from bench.sections.context import Context


def start_migrate(ctx: Context) -> subprocess.Popen[bytes]:
    """Migrate the web database in the background (``prepare`` waits for it)."""
    env = ctx.web_env(LOG_LEVEL="WARNING")
    argv = [str(BIN / "courier-web"), "migrate", "--noinput", "-v", "0"]
    return subprocess.Popen(argv, env=env, cwd=ROOT)


def prepare(ctx: Context, migrate: subprocess.Popen[bytes] | None = None) -> None:
    """The web database migrated, the worker's table created, the queues declared in
    every vhost of the run (which must exist by now)."""
    say("setup: migrating the web database, creating the worker's table, declaring queues")
    if migrate is None:
        migrate = start_migrate(ctx)
    try:
        subprocess.run(
            [str(BIN / "courier-worker"), "init-db"],
            env=ctx.worker_env(),
            check=True,
            timeout=60,
            cwd=ROOT,
            capture_output=True,
        )
        for url in [ctx.url, *ctx.spare_urls]:
            broker.declare_worker_queues(url)
        if migrate.wait(timeout=180) != 0:
            raise RuntimeError(f"migrate exited with {migrate.returncode}")
    finally:
        if migrate.poll() is None:
            migrate.kill()
            migrate.wait(10)


__all__ = ["prepare", "start_migrate"]
