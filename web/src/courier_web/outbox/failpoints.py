"""Failpoints: deterministic crashes at chosen points, for the fault tests (a test seam).

``OUTBOX_FAILPOINT`` names at most one failpoint; unset (the default) none
fires and each check costs one settings lookup. **Never set it in production.**

``exit-after-confirm``
    The process ends at once (``os._exit``, status ``EXIT_STATUS``: no
    cleanup, no commit, as a SIGKILL or an OOM kill would leave it) right
    after the broker confirmed a row and before that row is marked ``sent``.
    The open transaction dies with the database connection, so the row stays
    ``pending`` and is published again: the at-least-once case the worker's
    idempotency must absorb. ``tests_integration/faults/test_outbox.py``
    starts a relay with it and counts the copies.
"""

from __future__ import annotations

import os
import sys

import structlog
from django.conf import settings

log = structlog.get_logger(__name__)

EXIT_AFTER_CONFIRM = "exit-after-confirm"
KNOWN = frozenset({EXIT_AFTER_CONFIRM})
#: EX_SOFTWARE: tells a failpoint exit apart from a crash or a signal.
EXIT_STATUS = 70


def failpoint(name: str) -> None:
    """Fire failpoint ``name`` if ``OUTBOX_FAILPOINT`` selects it; else do nothing."""
    if getattr(settings, "OUTBOX_FAILPOINT", "") != name:
        return
    log.critical("outbox.failpoint", failpoint=name, action="exit", status=EXIT_STATUS)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(EXIT_STATUS)
