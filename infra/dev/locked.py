"""Run a command while holding an exclusive lock file: ``locked.py LOCK_FILE -- COMMAND...``.

`make run-web` (or `run-worker`) started twice at once would otherwise prepare
the same SQLite file twice at once, and Django's migrations fail with
"table ... already exists". The second start waits here, then finds the work
done. ``fcntl.flock`` rather than util-linux ``flock(1)``, which macOS lacks;
the kernel drops the lock when the holder dies, so a killed start never leaves
a stale lock behind. Standard library only: it runs before anything else.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]

USAGE = "usage: locked.py LOCK_FILE -- COMMAND [ARG...]"


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(USAGE, file=sys.stderr)
        return 2
    lock_path, command = Path(argv[0]), argv[2:]
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another start to finish ({lock_path} is locked)", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(command, check=False).returncode  # noqa: S603 (the Makefile's own)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
