"""Two Beats at once (a mistake, a rolling deploy): each scheduled job still runs once per period.

Both Beat containers come from the worker image with ``start-beat`` and a
10-second schedule; the stack's worker runs the jobs and mails the sign-up
digest to the SMTP sink. Over three periods and more, every period's digest
arrives exactly once, although both Beats sent every period.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

from ..support.celery_tools import Beat
from ..support.clients import WebClient
from ..support.logs import json_records
from ..support.polling import wait_until
from ..support.stack import DIGEST_STAFF, Stack

PERIOD = 10
SIGNUP_DIGEST = "signup-digest"
PERIOD_HEADER = "X-Courier-Period-Start"


def _digests(stack: Stack, since: datetime) -> list[dict[str, object]]:
    """Digest emails whose period starts at ``since`` or later."""
    found = []
    for mail in stack.smtp.messages_to(DIGEST_STAFF.split("@")[1]):
        start = mail["headers"].get(PERIOD_HEADER)
        if start and datetime.fromisoformat(start) >= since:
            found.append(mail)
    return found


def test_two_beats_run_each_job_once_per_period(stack: Stack, web: WebClient, domain: str) -> None:
    assert stack.workers, "the stack runs a worker"
    env = {
        **stack.worker_env(),
        "SCHEDULE_SIGNUP_DIGEST_SECONDS": str(PERIOD),
        "SCHEDULE_RETENTION_SECONDS": str(PERIOD),
    }
    # Periods that start from now on: nothing another test left in the sink.
    since = datetime.fromtimestamp((time.time() // PERIOD) * PERIOD, UTC)
    with contextlib.ExitStack() as cleanup:
        beats = [
            Beat(stack.images.worker, stack.network, env, alias=f"beat-{n}-{uuid.uuid4().hex[:6]}")
            for n in (1, 2)
        ]
        for beat in beats:
            cleanup.enter_context(beat)
        # A sign-up during the run, counted in one of the digests.
        assert web.register(f"ada@{domain}").status_code == 201

        def three_whole_periods() -> bool:
            starts = {m["headers"][PERIOD_HEADER] for m in _digests(stack, since)}
            return len(starts) >= 4  # the catch-up at start, then three more

        wait_until(
            three_whole_periods, timeout=6 * PERIOD, what="digests of four periods", interval=1
        )
        # The second Beat's copy of the last period has had time to arrive too.
        time.sleep(3)
        sent = [{record["event_id"] for record in beat.sent(SIGNUP_DIGEST)} for beat in beats]

    digests = _digests(stack, since)
    per_period = Counter(str(m["headers"][PERIOD_HEADER]) for m in digests)
    assert per_period
    assert set(per_period.values()) == {1}, per_period
    # Consecutive periods, none skipped.
    starts = sorted(datetime.fromisoformat(start) for start in per_period)
    assert all((b - a).total_seconds() == PERIOD for a, b in itertools.pairwise(starts))
    assert len(starts) >= 4
    # Both Beats sent (nearly) every period, with the same event id for the same period:
    # the worker turned the second copy away.
    common = sent[0] & sent[1]
    assert len(common) >= 3, sent

    def turned_away() -> set[object]:
        worker_logs = "".join(worker.logs() for worker in stack.workers)
        return {
            record.get("event_id")
            for _, record in json_records(worker_logs)
            if record.get("event") == "event.duplicate"
        }

    # The last copy may still be on its way to the worker: wait (bounded), then assert.
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: common <= turned_away(), timeout=30, what="the second copies turned away"
        )
    duplicates = turned_away()
    assert common <= duplicates, common - duplicates
    worker_logs = "".join(worker.logs() for worker in stack.workers)
    # The retention job ran too (on PostgreSQL, inside its own claim), and nothing failed.
    events = [record.get("event") for _, record in json_records(worker_logs)]
    assert "retention.pruned" in events
    assert "event.failed" not in events
    # Each digest is one email to the staff, with the period's count; the sign-up is in one.
    for mail in digests:
        assert mail["rcpt_tos"] == [DIGEST_STAFF]
        assert str(mail["subject"]).startswith("Courier sign-ups: ")
    counts = [int(str(m["subject"]).split(": ")[1].split(" ")[0]) for m in digests]
    assert sum(counts) >= 1, [m["subject"] for m in digests]
