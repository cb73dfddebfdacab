"""What every benchmark section needs: private vhosts and databases, processes, queues.

Everything created here is registered with a ``Cleanup`` stack and undone in
reverse order on the way out (normal end, exception, Ctrl-C or SIGTERM):
processes are stopped by their own process group id (a paused one is resumed
so that it can obey), the vhosts and the databases are deleted. Only
127.0.0.1 is ever contacted.

``phase`` accumulates the wall time of each named phase of a run (start-ups,
queue fills, measured windows, ...); ``run.py`` prints the breakdown.
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


#: Wall seconds per phase, ``"section/what"`` -> seconds, accumulated by ``phase``.
TIMINGS: dict[str, float] = {}


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the wall time of the ``with`` block to ``TIMINGS[name]``."""
    started = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[name] = TIMINGS.get(name, 0.0) + time.monotonic() - started


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
    name = new_vhost_name()
    create_vhosts(cleanup, base_url, [name])
    return name, vhost_url(base_url, name)


def new_vhost_name() -> str:
    return f"courier-bench-{uuid.uuid4().hex[:8]}"


def _rabbitmqctl_all(calls: Sequence[Sequence[str]]) -> None:
    """Several ``rabbitmqctl`` calls at once (each one is a short-lived Erlang node)."""
    running = [
        subprocess.Popen(
            ["rabbitmqctl", "-q", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for args in calls
    ]
    failed = []
    for args, proc in zip(calls, running, strict=True):
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode != 0:
            failed.append(f"rabbitmqctl {' '.join(args)}: {out.decode(errors='replace')}")
    if failed:
        raise RuntimeError("\n".join(failed))


def create_vhosts(cleanup: Cleanup, base_url: str, names: Sequence[str]) -> None:
    """Fresh vhosts ``names`` (``new_vhost_name``), created at once, deleted at the end."""
    user = urlsplit(base_url).username or "guest"
    # Pushed before they exist: deleting a vhost that was never created only
    # fails (and is reported) on the way out; the others are deleted anyway.
    cleanup.push(
        f"vhost{'s' if len(names) > 1 else ''} {', '.join(names)}",
        lambda: _rabbitmqctl_all([("delete_vhost", name) for name in names]),
    )
    _rabbitmqctl_all([("add_vhost", name) for name in names])
    _rabbitmqctl_all([("set_permissions", "-p", name, user, ".*", ".*", ".*") for name in names])


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


def wait_settled_count(
    url: str, queue: str, expected: int, slack: int, timeout: float = 30.0, poll: float = 0.03
) -> int:
    """The ready count of ``queue`` once it has stopped moving, within ``slack`` of ``expected``.

    After a confirmed fill, a paused (SIGSTOPped) consumer still subscribed to
    the queue has been handed up to its prefetch window: those messages are no
    longer "ready". Returns the count once 3 samples in a row agree.
    """
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    with channel(url) as chan:
        while time.monotonic() < deadline:
            seen = [*seen[-2:], chan.queue_declare(queue, passive=True).method.message_count]
            if len(seen) == 3 and len(set(seen)) == 1 and expected - slack <= seen[0] <= expected:
                return seen[0]
            time.sleep(poll)
    raise RuntimeError(f"{queue}: ready count {seen} not settled near {expected} after {timeout}s")


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


def publish_confirmed(
    url: str,
    messages: Sequence[Any],
    *,
    window: int = 256,
    batched: bool = False,
    timeout: float = 120.0,
) -> None:
    """Publish encoded ``WireMessage``s (``mandatory``) and return once every one is confirmed.

    Asynchronous confirms, at most ``window`` unconfirmed: once this returns,
    every message is in its queue (ready, or handed to a consumer). ``batched``:
    publish ``window`` messages, wait for all their confirms, repeat (the relay's
    strategy); otherwise a sliding window. The publish section's raw pika
    baselines are this function.
    """
    from pika.spec import Basic

    total = len(messages)
    state: dict[str, Any] = {"next": 0, "unconfirmed": set(), "bad": 0, "chan": None}

    def on_channel(chan: Any) -> None:
        state["chan"] = chan
        chan.add_on_return_callback(lambda *_: state.__setitem__("bad", state["bad"] + 1))
        chan.confirm_delivery(on_confirm, callback=lambda _frame: pump())

    def pump() -> None:
        chan = state["chan"]
        if batched and state["unconfirmed"]:
            return
        while state["next"] < total and len(state["unconfirmed"]) < window:
            message = messages[state["next"]]
            chan.basic_publish(
                message.exchange,
                message.routing_key,
                message.body,
                pika_properties(message),
                mandatory=True,
            )
            state["next"] += 1
            state["unconfirmed"].add(state["next"])  # delivery tags start at 1
        if state["next"] == total and not state["unconfirmed"]:
            chan.connection.close()

    def on_confirm(frame: Any) -> None:
        method = frame.method
        if isinstance(method, Basic.Nack):
            state["bad"] += 1
        if method.multiple:
            state["unconfirmed"] = {t for t in state["unconfirmed"] if t > method.delivery_tag}
        else:
            state["unconfirmed"].discard(method.delivery_tag)
        pump()

    connection = pika.SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda conn: conn.channel(on_open_callback=on_channel),
        on_open_error_callback=lambda conn, _err: conn.ioloop.stop(),
        on_close_callback=lambda conn, _reason: conn.ioloop.stop(),
    )
    connection.ioloop.call_later(timeout, connection.ioloop.stop)  # bounded
    connection.ioloop.start()
    if state["next"] != total or state["unconfirmed"] or state["bad"]:
        with contextlib.suppress(Exception):
            connection.close()
        raise RuntimeError(
            f"confirmed publish incomplete: {state['next']}/{total} published, "
            f"{len(state['unconfirmed'])} unconfirmed, {state['bad']} nacked or returned"
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
        self._terminated = False

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def pause(self) -> None:
        """SIGSTOP the whole process group: it uses no CPU until ``resume``.

        A paused consumer stays subscribed: the broker still hands it up to its
        prefetch window, so never pause one on a queue another consumer reads.
        """
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def terminate(self) -> None:
        """SIGTERM the group, once (resumed, so that a paused process obeys); does not wait."""
        if self.alive() and not self._terminated:
            self._terminated = True
            self._signal(signal.SIGTERM)
            self._signal(signal.SIGCONT)

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            self.terminate()
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


#: Processes told to stop whose exit nobody has waited for yet (``retire``).
_RETIRING: list[Proc] = []


def retire(procs: Sequence[Proc]) -> None:
    """SIGTERM ``procs`` and go on: their shutdown overlaps the next start-ups.

    ``reap`` waits for them; ``wait_quiet``, the gate before every measured
    window, reaps first, so no shutdown overlaps a measurement.
    """
    for proc in procs:
        proc.terminate()
        _RETIRING.append(proc)


def reap() -> None:
    """Wait until every retired process has exited (``Proc.stop``: SIGKILL after a timeout)."""
    while _RETIRING:
        _RETIRING.pop().stop()


def proc_stats() -> Iterator[tuple[int, str, list[str]]]:
    """``(pid, command name, the stat fields after the name)`` of every process (``/proc``).

    The fields after the name, from 0: state, ppid, pgrp, ..., utime at 11,
    stime 12, and the reaped children's cutime 13 and cstime 14 (in clock ticks).
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        head, _, rest = stat.rpartition(")")
        yield int(entry.name), head.partition("(")[2], rest.split()


def group_cpu(pgids: Sequence[int]) -> dict[int, float]:
    """CPU seconds used so far by the live processes of each process group in ``pgids``.

    User + system time of every member, plus what its reaped children used.
    """
    used = dict.fromkeys(pgids, 0)
    for _, _, fields in proc_stats():
        pgrp = int(fields[2])
        if pgrp in used:
            used[pgrp] += sum(int(f) for f in fields[11:15])
    ticks = os.sysconf("SC_CLK_TCK")
    return {pgid: value / ticks for pgid, value in used.items()}


def wait_quiet(
    procs: Sequence[Proc],
    what: str,
    *,
    window: float = 0.15,
    limit: float = 0.07,
    timeout: float = 60.0,
) -> None:
    """Wait until ``procs`` are idle: all of them together used at most ``limit`` of
    one core over the last ``window`` seconds (e.g. their start-up is over, or
    their last in-flight messages are handled). Replaces fixed settle sleeps.
    Retired processes are reaped first: whatever comes next runs alone.
    """
    reap()
    pgids = [p.pid for p in procs]
    deadline = time.monotonic() + timeout
    before = sum(group_cpu(pgids).values())
    while time.monotonic() < deadline:
        time.sleep(window)
        for proc in procs:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited while waiting for {what}:\n{proc.tail()}")
        now = sum(group_cpu(pgids).values())
        if now - before <= limit * window:
            return
        before = now
    raise RuntimeError(f"timed out after {timeout}s waiting for {what} (still busy)")


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    return [child for child, _, fields in proc_stats() if int(fields[1]) == pid]


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
