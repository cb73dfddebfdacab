"""The gunicorn servers and the relay that latency and http share: started once per run.

The servers boot while the publish section seeds its rows (one core), and the
base-settings server is both latency's Courier web and http's "events on"
and "full stack" server.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Sequence

from courier_worker.queues import CRITICAL

from bench import broker, databases
from bench.paths import BIN, LOCALHOST
from bench.processes import Proc, retire, start, wait_quiet, wait_until
from bench.sections.context import Context

#: The gunicorn configurations of the latency and http sections, by name.
WEB_SETTINGS = {
    # The deployed stack: latency's Courier web, http's "events on" and "full stack".
    "base": "courier_web.config.settings.base",
    "naive": "bench.web.settings_naive",
    "events_off": "bench.web.settings_events_off",
    "bare": "bench.web.settings_bare",
}
LATENCY_WEB = ("base", "naive")
HTTP_WEB = ("base", "events_off", "bare")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def gunicorn(ctx: Context, name: str, settings: str, **extra: str) -> tuple[Proc, int]:
    """The web service under gunicorn, configured as ``infra/`` deploys it (sync workers)."""
    port = free_port()
    proc = start(
        ctx.cleanup,
        name,
        [
            str(BIN / "gunicorn"),
            "courier_web.config.wsgi:application",
            "--bind",
            f"{LOCALHOST}:{port}",
            "--workers",
            str(ctx.config.web_workers),
            "--worker-tmp-dir",
            "/dev/shm",
            "--timeout",
            "30",
            "--log-level",
            "warning",
        ],
        ctx.web_env(settings, **extra),
        ctx.tmp,
    )
    return proc, port


def wait_http(proc: Proc, port: int) -> None:
    """Until ``GET /healthz`` answers 200 on ``port``."""

    def ok() -> bool:
        conn = http.client.HTTPConnection(LOCALHOST, port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    wait_until(f"{proc.name} on :{port}", ok, 60, proc)


def start_web(ctx: Context, kinds: Sequence[str] = ()) -> None:
    """Start the gunicorn servers ``kinds`` and ``ctx.web_kinds`` not running yet; no wait.

    The publish section calls it: the servers boot while its scenario seeds
    rows (they touch neither the database nor the broker until a request
    comes) and idle afterwards.
    """
    for kind in dict.fromkeys([*ctx.web_kinds, *kinds]):
        if kind not in ctx.web:
            ctx.web[kind] = gunicorn(ctx, f"web-{kind}", WEB_SETTINGS[kind])


def web_answering(ctx: Context) -> None:
    """Every server started so far answers, and every web process is idle."""
    for proc, port in ctx.web.values():
        wait_http(proc, port)
    if ctx.web or ctx.relay:
        wait_quiet(web_procs(ctx), "the web processes' start-up")


def web_stack(ctx: Context, kinds: Sequence[str]) -> dict[str, tuple[Proc, int]]:
    """The gunicorn servers ``kinds`` and the relay, running; each started once per run.

    The relay (``relay_outbox``, ``OUTBOX_DISPATCH`` as the web's) starts with
    the first section that needs it. The caller waits until they answer and
    are idle (``web_answering``) before measuring; ``stop_web`` ends them.
    """
    start_web(ctx, kinds)
    if ctx.relay is None:
        argv = [str(BIN / "courier-web"), "relay_outbox"]
        ctx.relay = start(ctx.cleanup, "relay", argv, ctx.web_env(), ctx.tmp)
    return {kind: ctx.web[kind] for kind in kinds}


def web_procs(ctx: Context) -> list[Proc]:
    return [proc for proc, _ in ctx.web.values()] + ([ctx.relay] if ctx.relay else [])


def relay_caught_up(ctx: Context) -> None:
    """Until the relay has published every outbox row."""
    unsent = "SELECT count(*) FROM outbox_outboxmessage WHERE status <> 'sent'"
    wait_until(
        "the relay to publish every registration",
        lambda: int(databases.sql(ctx.web_db, unsent)[0][0]) == 0,
        60,
        ctx.relay,
    )


def stop_web(ctx: Context) -> None:
    """Stop the servers and the relay (once it has published every row); clear the outbox."""
    if ctx.relay is not None:
        relay_caught_up(ctx)
    retire(web_procs(ctx))
    ctx.web.clear()
    ctx.relay = None
    broker.purge(ctx.url, CRITICAL.name)
    databases.sql(ctx.web_db, "DELETE FROM outbox_outboxmessage")


__all__ = [
    "HTTP_WEB",
    "LATENCY_WEB",
    "WEB_SETTINGS",
    "gunicorn",
    "relay_caught_up",
    "start_web",
    "stop_web",
    "wait_http",
    "web_answering",
    "web_procs",
    "web_stack",
]
