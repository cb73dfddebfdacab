"""The Courier worker with one more handler, for the bench's I/O-bound event.

``celery -A bench.apps.io_worker:app worker``: the real Courier app (its
consumer, tasks, envelope validation and idempotency record in PostgreSQL)
plus a handler of ``bench.io_probe_sent.v1`` (``bench.events``) declared as
every handler is (``@handles``, on the bulk queue) before the worker starts:
it waits ``BENCH_IO_WAIT_MS`` (default 20), standing for an SMTP or HTTP
call. The scaling section runs it with 1, 2 and 4 processes on the same queue.
"""

from __future__ import annotations

import os
import time

from courier_worker.handlers import Dependencies, handles
from courier_worker.queues import BULK
from shared_contracts import Envelope

from bench.events import IoProbeSent

_WAIT = float(os.environ.get("BENCH_IO_WAIT_MS", "20")) / 1000


@handles(IoProbeSent, queue=BULK)
def wait_for_io(envelope: Envelope[IoProbeSent], deps: Dependencies) -> None:
    """Stands for a call to a slow dependency: the process waits, the CPU is free."""
    time.sleep(_WAIT)


# The app registers a task and binds the queues for every declaration it
# finds when the worker starts, this one included.
from courier_worker.celery_app import app  # noqa: E402

__all__ = ["app"]
