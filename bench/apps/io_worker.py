"""The Courier worker with an I/O-bound probe handler: 20 ms of waiting per event.

``celery -A bench.apps.io_worker:app worker``: the real Courier app (its
consumer, tasks, envelope validation and idempotency record in PostgreSQL);
only the handler of ``diagnostic.probe_sent.v1`` is swapped for one that
sleeps ``BENCH_IO_WAIT_MS`` (default 20), standing for an SMTP or HTTP call.
The scaling section runs it with 1, 2 and 4 processes on the same queue.
"""

from __future__ import annotations

import os
import time
from types import MappingProxyType
from typing import Any

from courier_worker import tasks
from courier_worker.handlers import HANDLERS
from shared_contracts import ProbeSent

_WAIT = float(os.environ.get("BENCH_IO_WAIT_MS", "20")) / 1000


def wait_for_io(envelope: Any, deps: Any) -> None:
    """Stands for a call to a slow dependency: the process waits, the CPU is free."""
    time.sleep(_WAIT)


# The task adapter looks its handler up in this mapping at call time.
tasks.HANDLERS = MappingProxyType({**HANDLERS, ProbeSent.event_type: wait_for_io})

from courier_worker.celery_app import app  # noqa: E402 - after the swap, on purpose

__all__ = ["app"]
