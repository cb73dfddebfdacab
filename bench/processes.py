"""The processes a run starts: each in its own process group, paused, resumed, stopped.

A process is stopped through its process group id (a paused one is resumed
so that it can obey), so that nothing it forked outlives the run. ``retire``
lets a shutdown overlap the next start-ups; ``wait_quiet``, the gate before
every measured window, waits for those exits first and then until the
processes about to be measured are idle.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.cleanup import Cleanup
from bench.paths import BIN, ROOT
from bench.process_stats import group_cpu


class Proc:
    """A child process in its own session; stopped through its process group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        log_dir: Path,
        *,
        echo: bool = False,
    ) -> None:
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


def base_env(**extra: str) -> dict[str, str]:
    """The environment of every child: the venv first, the repo on the path, no user config.

    The repository root on ``PYTHONPATH`` is what lets a child import
    ``bench`` (its apps, scenarios and Django settings modules).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OUTBOX_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def start(
    cleanup: Cleanup,
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    log_dir: Path,
    *,
    echo: bool = False,
) -> Proc:
    """Start ``argv`` (its output in ``log_dir/name.log``), stopped on the way out."""
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


def wait_until(
    what: str, predicate: Callable[[], bool], timeout: float, proc: Proc | None = None
) -> None:
    """Poll ``predicate`` until it holds (raising counts as not yet); fail if ``proc`` exits."""
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


__all__ = ["Proc", "base_env", "reap", "retire", "start", "wait_quiet", "wait_until"]
