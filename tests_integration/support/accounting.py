"""The one accounting every fault test ends with: what was produced, handled, done, lost.

``settle`` waits (bounded) until every event that should have a side effect
has its email in the SMTP sink and its ``event.handled`` line in a worker's
log, then counts, logs one ``accounting`` line, records it for the session's
summary and asserts. Nothing is guessed from timing: each number is counted
by event id.

- **produced**: the events the test caused (published with pika, or the outbox
  rows its registrations wrote), poison messages included;
- **handled**: ``"event": "event.handled"`` lines for those ids, summed over
  every worker container (a restarted container keeps its earlier log);
- **side effects**: welcome emails in the sink for them, by ``Message-ID``
  (``<event id>@courier.invalid``); ``repeated effects`` is emails beyond the
  first per event (a crash between the email and the worker's commit);
- **duplicates suppressed**: ``event.duplicate`` lines (a delivery the
  idempotency store turned away);
- **dead-lettered**: produced events the test found in a dead-letter queue;
- **lost**: produced events with neither a side effect nor a dead letter.
  Always asserted to be 0.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql
from shared_contracts import UserRegistered

from .logs import json_records
from .polling import wait_until
from .stack import Stack

log = logging.getLogger("courier.accounting")

#: Every accounting of the session, in order: printed in pytest's terminal summary.
RECORDED: list[Accounting] = []
#: Measurements the tests report alongside (test name, text), printed with them.
NOTES: list[tuple[str, str]] = []


@dataclass(frozen=True)
class Accounting:
    test: str
    produced: int
    handled: int
    side_effects: int
    repeated_effects: int
    duplicates_suppressed: int
    dead_lettered: int
    lost: int

    def line(self) -> str:
        return (
            f"accounting[{self.test}]: produced={self.produced} handled={self.handled} "
            f"side_effects={self.side_effects} repeated_effects={self.repeated_effects} "
            f"duplicates_suppressed={self.duplicates_suppressed} "
            f"dead_lettered={self.dead_lettered} lost={self.lost}"
        )


def worker_log_counts(
    stack: Stack, extra_logs: Iterable[str] = (), extra_workers: Iterable[Any] = ()
) -> tuple[Counter[str], ...]:
    """Per event id: ``event.handled``, ``event.duplicate`` and ``event.retry_scheduled`` lines.

    ``extra_logs``: logs already read (containers gone); ``extra_workers``:
    running containers outside ``stack.workers``, read now.
    """
    handled: Counter[str] = Counter()
    duplicate: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    by_event = {
        "event.handled": handled,
        "event.duplicate": duplicate,
        "event.retry_scheduled": retried,
    }
    workers = [*stack.workers, *extra_workers]
    for text in [*(worker.logs() for worker in workers), *extra_logs]:
        for record in json_lines(text):
            counter = by_event.get(str(record.get("event")))
            if counter is not None and record.get("event_id"):
                counter[str(record["event_id"])] += 1
    return handled, duplicate, retried


def json_lines(text: str) -> Iterable[dict[str, Any]]:
    """The JSON objects of a container log (lines may carry a prefix)."""
    return (record for _, record in json_records(text))


def emails_by_event(stack: Stack, domain: str) -> Counter[str]:
    """Emails received for ``domain``, counted by the event id in their Message-ID."""
    return Counter(
        str(mail["message_id"]).strip("<>").split("@", 1)[0]
        for mail in stack.smtp.messages_to(domain)
    )


def outbox_rows(stack: Stack, domain: str) -> dict[str, str]:
    """The web's ``user.registered.v1`` outbox rows for users at ``domain``: event id -> status.

    Their audit events (``entity.changed.v1``) name the address too, and are
    not counted: the welcome email is the side effect the accounting follows.
    """
    return _outbox_column(stack, domain, "status")


def outbox_attempts(stack: Stack, domain: str) -> dict[str, int]:
    """Publish attempts of the outbox rows for registrations at ``domain``, by event id."""
    return _outbox_column(stack, domain, "attempts")


def _outbox_column(stack: Stack, domain: str, column: str) -> dict[str, Any]:
    query = sql.SQL(
        "SELECT event_id::text, {} FROM outbox_outboxmessage WHERE event_type = %s AND body LIKE %s"
    ).format(sql.Identifier(column))
    with (
        psycopg.connect(stack.postgres.url("courier_web"), connect_timeout=5) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(query, (UserRegistered.event_type, f'%@{domain}"%'))
        return dict(cursor.fetchall())


def settle(
    stack: Stack,
    *,
    test: str,
    domain: str,
    produced: Collection[str],
    dead_lettered: Collection[str] = (),
    in_flight: int = 0,
    extra_logs: Iterable[str] = (),
    extra_workers: Iterable[Any] = (),
    timeout: float = 180,
) -> Accounting:
    """Wait for the side effects of ``produced``, then count, report and assert.

    ``dead_lettered``: produced ids the test found in a dead-letter queue (no
    side effect expected). ``in_flight``: how many deliveries the fault may
    cut short (0 unless it kills handlers): it bounds the repeated emails (a
    handler killed between its email and its commit) and the events whose
    only trace is a duplicate line (killed between its commit and its log).
    ``extra_logs``: logs of worker containers no longer in the stack;
    ``extra_workers``: running worker containers outside the stack, whose logs
    are read again at every poll (a snapshot would miss their latest lines).
    """
    produced_ids = {str(event_id) for event_id in produced}
    dead = {str(event_id) for event_id in dead_lettered} & produced_ids
    effective = produced_ids - dead
    extra = list(extra_logs)
    live = list(extra_workers)

    def done() -> bool:
        emails = emails_by_event(stack, domain)
        if not effective <= emails.keys():
            return False
        handled, duplicate, _ = worker_log_counts(stack, extra, live)
        return effective <= handled.keys() | duplicate.keys()

    try:
        wait_until(done, timeout=timeout, what=f"the side effects of {len(effective)} events")
    except AssertionError:
        log.exception("accounting: not everything arrived; counting what did")

    emails = emails_by_event(stack, domain)
    handled, duplicate, _ = worker_log_counts(stack, extra, live)
    foreign = set(emails) - produced_ids
    effects = effective & emails.keys()
    lost = sorted(effective - emails.keys())
    accounting = Accounting(
        test=test,
        produced=len(produced_ids),
        handled=sum(handled[event_id] for event_id in produced_ids),
        side_effects=len(effects),
        repeated_effects=sum(count - 1 for event_id, count in emails.items() if count > 1),
        duplicates_suppressed=sum(duplicate[event_id] for event_id in produced_ids),
        dead_lettered=len(dead),
        lost=len(lost),
    )
    RECORDED.append(accounting)
    log.info("%s", accounting.line())
    print(accounting.line())  # shown with -s / -rP; the session summary repeats it

    assert not foreign, f"emails for events this test never produced: {sorted(foreign)[:5]}"
    assert accounting.lost == 0, f"{len(lost)} events lost, e.g. {lost[:5]}: {accounting}"
    assert not (effects & dead), "an event both dead-lettered and handled"
    assert accounting.side_effects == len(effective), accounting
    # The idempotency store records each event once: at most one handled line per event.
    twice = sorted(e for e in produced_ids if handled[e] > 1)
    assert not twice, f"events handled more than once: {twice[:5]}"
    # A process killed after its commit but before its log line leaves no handled line;
    # the redelivery then finds the record: a duplicate line instead. Only a crash does that.
    unlogged = sorted(effective - handled.keys())
    assert not (set(unlogged) - duplicate.keys()), f"never handled: {unlogged[:5]}"
    assert len(unlogged) <= in_flight, (
        f"{len(unlogged)} events committed by a killed process, at most "
        f"{in_flight} allowed: {unlogged[:5]}"
    )
    assert accounting.repeated_effects <= in_flight, (
        f"{accounting.repeated_effects} repeated emails, at most {in_flight} allowed"
    )
    return accounting


def note(test: str, text: str) -> None:
    """Report a measurement of ``test`` (logged, and printed in the session summary)."""
    NOTES.append((test, text))
    log.info("%s: %s", test, text)


def summary_lines() -> list[str]:
    lines = []
    for accounting in RECORDED:
        lines.append(accounting.line())
        lines.extend(f"    {text}" for test, text in NOTES if test == accounting.test)
    return lines


def as_dicts() -> list[dict[str, Any]]:
    return [asdict(accounting) for accounting in RECORDED]
