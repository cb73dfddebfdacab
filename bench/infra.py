"""What every benchmark section needs: a private vhost and databases, processes, queues.

Everything created here is registered with a ``Cleanup`` stack and undone in
reverse order on the way out (normal end, exception, Ctrl-C or SIGTERM):
processes are stopped by their own process group id, the vhost and the
databases are deleted. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pika
from pika.adapters.blocking_connection import BlockingChannel

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PYTHON = BIN / "python"
HOST = "127.0.0.1"


def say(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Cleanup:
    """A LIFO stack of undo actions, run once, whatever happens."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], None]]] = []

    def push(self, what: str, action: Callable[[], None]) -> None:
        self._actions.append((what, action))

    def run(self) -> None:
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except Exception as exc:  # keep undoing the rest
                say(f"cleanup of {what} failed: {type(exc).__name__}: {exc}")

    def __enter__(self) -> Cleanup:
        def _terminate(signum: int, _frame: Any) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, _terminate)
        return self

    def __exit__(self, *_: object) -> None:
        self.run()


# ----------------------------------------------------------------- broker


def broker_base_url() -> str:
    url = os.environ.get("RABBITMQ_URL", f"amqp://guest:guest@{HOST}:5672/%2F")
    parts = urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost"}:
        raise SystemExit(f"bench: only a local broker (127.0.0.1) is benchmarked, not {url!r}")
    return url


def vhost_url(base: str, vhost: str) -> str:
    parts = urlsplit(base)
    netloc = parts.netloc.replace("localhost", HOST)
    return f"{parts.scheme}://{netloc}/{quote(vhost, safe='')}"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost(cleanup: Cleanup, base_url: str) -> tuple[str, str]:
    """A fresh vhost for this run (deleted at the end); returns (name, url)."""
    name = f"courier-bench-{uuid.uuid4().hex[:8]}"
    user = urlsplit(base_url).username or "guest"
    _rabbitmqctl("add_vhost", name)
    cleanup.push(f"vhost {name}", lambda: _rabbitmqctl("delete_vhost", name))
    _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    return name, vhost_url(base_url, name)


def broker_version(url: str) -> str:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        props = connection._impl.server_properties
        version = props.get("version", b"?")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        connection.close()


@contextlib.contextmanager
def channel(url: str) -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def declare_worker_queues(url: str) -> None:
    """The worker's consuming queues, bound to ``courier.events``, exactly as it declares them."""
    from courier_worker.topology import CONSUMING_QUEUES
    from kombu import Connection

    with Connection(url) as connection:
        chan = connection.channel()
        for queue in CONSUMING_QUEUES:
            queue(chan).declare()


def queue_counts(url: str, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of ``queue``."""
    with channel(url) as chan:
        method = chan.queue_declare(queue, passive=True).method
        return method.message_count, method.consumer_count


def purge(url: str, *queues: str) -> None:
    with channel(url) as chan:
        for queue in queues:
            chan.queue_purge(queue)


def wait_ready_count(url: str, queue: str, expected: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with channel(url) as chan:
        while time.monotonic() < deadline:
            count = chan.queue_declare(queue, passive=True).method.message_count
            if count >= expected:
                return
            time.sleep(0.05)
    raise RuntimeError(f"{queue}: {count} of {expected} messages after {timeout}s")


def measure_drain(url: str, queue: str, total: int, timeout: float, poll: float = 0.02) -> float:
    """Events per second at which the consumers drain ``queue``, in steady state.

    Polls the queue's ready count (a passive declare, every ``poll`` s). The
    clock starts at the first sample below ``total`` (the consumers are up and
    fetching; the messages they already took are not counted) and stops at the
    first sample at 0; rate = messages still ready at the start / elapsed.
    Startup time is excluded; what is left in flight at the end (at most the
    prefetch window) is the measure's error, well under 1 % at these sizes.
    """
    deadline = time.monotonic() + timeout
    started: float | None = None
    at_start = 0
    with channel(url) as chan:
        while time.monotonic() < deadline:
            count = chan.queue_declare(queue, passive=True).method.message_count
            now = time.monotonic()
            if started is None and count < total:
                started, at_start = now, count
            if started is not None and count == 0:
                if now - started <= 0 or at_start == 0:
                    raise RuntimeError(f"{queue} drained too fast to measure; raise the count")
                return at_start / (now - started)
            time.sleep(poll)
    raise RuntimeError(f"{queue} not drained within {timeout}s")


def publish_raw(url: str, messages: Sequence[Any]) -> None:
    """Publish encoded ``WireMessage``s without confirms (only to fill a queue fast)."""
    with channel(url) as chan:
        for message in messages:
            chan.basic_publish(
                message.exchange, message.routing_key, message.body, pika_properties(message)
            )


def pika_properties(message: Any) -> pika.BasicProperties:
    """The AMQP properties the web's ``PikaPublisher`` sends for a ``WireMessage``."""
    return pika.BasicProperties(
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=message.delivery_mode,
        correlation_id=message.correlation_id or None,
        message_id=message.message_id or None,
        headers=dict(message.headers),
        **dict(message.properties),
    )


def probes(count: int, tag: str) -> list[Any]:
    """``count`` encoded ``diagnostic.probe_sent.v1`` events."""
    from shared_contracts import ProbeSent, encode, new_envelope

    return [
        encode(
            new_envelope(
                ProbeSent(sequence=i, note=tag),
                producer="courier-bench",
                correlation_id=f"{tag}-{i}",
            ),
            origin="courier-bench",
        )
        for i in range(count)
    ]


# --------------------------------------------------------------- postgres


def postgres_admin_url() -> str:
    return os.environ.get("POSTGRES_ADMIN_URL", f"postgresql://postgres@{HOST}:5432/postgres")


def create_database(cleanup: Cleanup, prefix: str) -> str:
    """A fresh PostgreSQL database (dropped at the end); returns its URL."""
    import psycopg

    admin = postgres_admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    cleanup.push(f"database {name}", drop)
    parts = urlsplit(admin)
    return parts._replace(path=f"/{name}").geturl()


def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


# -------------------------------------------------------------- processes


class Proc:
    """A child process in its own session; stopped through its process group."""

    def __init__(
        self, name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path, *, echo=False
    ):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            list(argv),
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=None if echo else subprocess.STDOUT,  # echo: progress lines to our stderr
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Whatever the group left behind (a pool child that outlived its parent).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(
    cleanup: Cleanup,
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    log_dir: Path,
    *,
    echo: bool = False,
) -> Proc:
    proc = Proc(name, argv, env, log_dir, echo=echo)
    cleanup.push(f"process {name} ({proc.pid})", proc.stop)
    return proc


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_until(what: str, predicate: Callable[[], bool], timeout: float, proc: Proc | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited while waiting for {what}:\n{proc.tail()}")
        try:
            if predicate():
                return
        except Exception:  # not up yet  # noqa: S110
            pass
        time.sleep(0.1)
    tail = f":\n{proc.tail()}" if proc else ""
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}{tail}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def base_env(**extra: str) -> dict[str, str]:
    """The environment of every child: the venv first, the repo on the path, no user config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OUTBOX_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
