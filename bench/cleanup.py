"""Undo everything a run created, in reverse order, whatever happens.

Every vhost, database, temp dir and process a run creates is registered with
its ``Cleanup`` stack and undone on the way out: normal end, exception,
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from bench.progress import say


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


__all__ = ["Cleanup"]
