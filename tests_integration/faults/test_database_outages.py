"""PostgreSQL goes away: restarted while users register, paused, restarted under the worker.

A database restart is routine (a minor upgrade, a managed failover). While it
lasts the web answers ``503`` with ``Retry-After`` (never ``500``), the relay
backs off and reconnects (never exits), and the worker retries what it could
not record (never dead-letters). Afterwards every registration that answered
``201`` is emailed once, and the time from the database's return to the first
event published (or handled) is reported and bounded.

The stack's one PostgreSQL holds both the web's and the worker's databases,
as in ``make up``: each fault reaches every service at once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from ..support.accounting import emails_by_event, json_lines, outbox_rows
from ..support.clients import WebClient, publish_registrations
from ..support.polling import wait_until
from ..support.stack import Stack
from .helpers import container_status, ensure_running, in_flight_limit, take_dead_letters

#: Seconds from the database's return to the first event published: seconds, not minutes.
RECOVERY_BOUND_S = 15.0


@pytest.fixture(autouse=True)
def database_running(stack: Stack) -> Iterator[None]:
    """Whatever the test did to PostgreSQL, it runs (unpaused) afterwards."""
    yield
    ensure_running(stack.postgres)


class Registrations:
    """Registrations streamed by a few client threads, paced, with each answer and when."""

    def __init__(self, web: WebClient, domain: str, total: int, *, threads: int = 4) -> None:
        self.answers: list[tuple[float, str, int, requests.Response | None]] = []
        #: The longest time (s) a request took to answer.
        self.longest = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        per_thread = total // threads
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(WebClient(web.base_url), [f"db{t}-{n}@{domain}" for n in range(per_thread)]),
                name=f"registrations-{t}",
            )
            for t in range(threads)
        ]

    def _run(self, client: WebClient, emails: list[str]) -> None:
        for email in emails:
            if self._stop.wait(0.04):  # about 25 a second per thread: a stream, not a flood
                return
            response: requests.Response | None
            started = time.monotonic()
            try:
                response = client.register(email)
                status = response.status_code
            except requests.RequestException:
                response, status = None, 0  # no answer at all: counted, and asserted absent
            with self._lock:
                self.answers.append((time.time(), email, status, response))
                self.longest = max(self.longest, time.monotonic() - started)

    def __enter__(self) -> Registrations:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self._threads:
            thread.join(timeout=120)

    def statuses(self) -> Counter[int]:
        with self._lock:
            return Counter(status for _, _, status, _ in self.answers)

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def emails(self, status: int) -> set[str]:
        with self._lock:
            return {email for _, email, code, _ in self.answers if code == status}

    def first_after(self, moment: float, status: int) -> float | None:
        with self._lock:
            return min(
                (at for at, _, code, _ in self.answers if code == status and at > moment),
                default=None,
            )

    def unavailable_answers(self) -> list[requests.Response]:
        with self._lock:
            return [r for _, _, code, r in self.answers if code == 503 and r is not None]


def log_times(text: str, event: str, since: float) -> list[float]:
    """Wall-clock times of the ``event`` lines of a container log logged after ``since``."""
    times = []
    for record in json_lines(text):
        if record.get("event") != event or "timestamp" not in record:
            continue
        at = datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00")).timestamp()
        if at > since:
            times.append(at)
    return sorted(times)


def assert_proper_503s(answers: list[requests.Response]) -> None:
    for response in answers:
        assert response.headers.get("Retry-After"), response.headers
        assert response.headers.get("X-Request-ID"), response.headers
        assert response.json()["error"]["code"] == "database_unavailable", response.text


def emails_by_address(stack: Stack, domain: str) -> dict[str, set[str]]:
    """Distinct Message-IDs the sink received, by recipient."""
    found: dict[str, set[str]] = {}
    for mail in stack.smtp.messages_to(domain):
        for recipient in mail["rcpt_tos"]:
            found.setdefault(recipient, set()).add(str(mail["message_id"]))
    return found


class GaugeWatch:
    """Scrapes the relay's ``database_up`` gauge in the background; remembers each value seen."""

    def __init__(self, stack: Stack) -> None:
        assert stack.relay is not None
        self.url = stack.relay.metrics_url
        self.seen: set[float] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay-gauge")

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                text = requests.get(self.url, timeout=2).text
            except requests.RequestException:
                continue
            for line in text.splitlines():
                if line.startswith("courier_web_outbox_relay_database_up "):
                    self.seen.add(float(line.split()[1]))

    def __enter__(self) -> GaugeWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def relay_starts(stack: Stack) -> int:
    assert stack.relay is not None
    return stack.relay.logs().count('"outbox.relay_started"')


def test_a_restart_while_users_register_answers_503_and_emails_every_201_once(
    stack: Stack,
    web: WebClient,
    domain: str,
    settle: Callable[..., Any],
    note: Callable[[str], None],
) -> None:
    assert stack.relay is not None
    starts = relay_starts(stack)
    with GaugeWatch(stack) as gauge, Registrations(web, domain, 500) as stream:
        wait_until(lambda: stream.statuses()[201] >= 100, timeout=60, what="100 registrations")
        down = time.time()
        stack.postgres.docker_restart()  # returns once it accepts connections again
        back = time.time()
        wait_until(
            lambda: stream.first_after(back, 201) is not None,
            timeout=60,
            what="a registration answered 201 after the restart",
        )
    statuses = stream.statuses()

    assert set(statuses) <= {201, 503}, statuses  # never a 500, never no answer
    assert statuses[503] >= 1, "the restart was never felt: no 503"
    assert_proper_503s(stream.unavailable_answers())
    rows = outbox_rows(stack, domain)
    result = settle(domain=domain, produced=rows, in_flight=in_flight_limit(stack))
    emailed = emails_by_address(stack, domain)
    created = stream.emails(201)
    assert [email for email in created if len(emailed.get(email, ())) != 1] == []
    # A 503 whose commit went through before its connection died: ambiguous for
    # the client, but committed, so announced and emailed like any other.
    committed_503s = stream.emails(503) & emailed.keys()
    assert len(rows) == len(created) + len(committed_503s)

    published = log_times(stack.relay.logs(), "outbox.published", back)
    assert published, "nothing published after the restart"
    recovery = published[0] - back
    assert container_status(stack.relay) == "running"
    assert relay_starts(stack) == starts  # it never exited, so it never started again
    assert 0.0 in gauge.seen, f"the relay's database_up gauge never said 0: {gauge.seen}"
    assert 1.0 in gauge.seen
    note(
        f"restart {back - down:.1f}s; {statuses[201]}x201 {statuses[503]}x503 "
        f"({len(committed_503s)} 503s committed anyway); database back -> first publish "
        f"{recovery:.2f}s; {result.repeated_effects} repeated emails"
    )
    assert recovery < RECOVERY_BOUND_S


def test_a_paused_database_holds_or_refuses_requests_and_loses_nothing(
    stack: Stack,
    web: WebClient,
    domain: str,
    settle: Callable[..., Any],
    note: Callable[[str], None],
) -> None:
    """``docker pause``: connections hang rather than break, for longer than the relay's
    statement timeout (OUTBOX_STATEMENT_TIMEOUT, 10 s).

    A request that needs a new connection gets a 503 after DATABASE_CONNECT_TIMEOUT
    (5 s); one whose statement was already sent waits for the server (a frozen
    server enforces no timeout), within the pause plus a few seconds, and never
    as long as gunicorn's worker timeout (30 s). Which of the two a request meets
    depends on where each gunicorn worker stood when the pause began.
    """
    assert stack.relay is not None
    starts = relay_starts(stack)
    with Registrations(web, domain, 300) as stream:
        wait_until(lambda: stream.statuses()[201] >= 50, timeout=60, what="50 registrations")
        stack.postgres.pause()
        paused = time.time()
        wait_until(lambda: time.time() - paused >= 12, timeout=30, what="a 12 s pause")
        stack.postgres.unpause()
        back = time.time()
        wait_until(
            lambda: stream.first_after(back, 201) is not None,
            timeout=60,
            what="a registration answered 201 after the pause",
        )
    statuses = stream.statuses()

    assert set(statuses) <= {201, 503}, statuses
    assert_proper_503s(stream.unavailable_answers())
    assert stream.longest < 25, f"a request waited {stream.longest:.1f}s"
    rows = outbox_rows(stack, domain)
    result = settle(domain=domain, produced=rows, in_flight=in_flight_limit(stack))
    emailed = emails_by_address(stack, domain)
    assert [email for email in stream.emails(201) if len(emailed.get(email, ())) != 1] == []

    published = log_times(stack.relay.logs(), "outbox.published", back)
    assert published, "nothing published after the pause"
    recovery = published[0] - back
    assert relay_starts(stack) == starts
    note(
        f"paused {back - paused:.1f}s; {statuses[201]}x201 {statuses[503]}x503, longest "
        f"request {stream.longest:.1f}s; "
        f"database back -> first publish {recovery:.2f}s; "
        f"{result.repeated_effects} repeated emails"
    )
    assert recovery < RECOVERY_BOUND_S


def test_a_restart_while_the_worker_drains_a_backlog_dead_letters_nothing(
    stack: Stack,
    domain: str,
    settle: Callable[..., Any],
    note: Callable[[str], None],
) -> None:
    emails = [f"backlog{n}@{domain}" for n in range(300)]
    connection = stack.rabbitmq.connection()
    try:
        event_ids = publish_registrations(connection, emails, correlation_id="db-backlog")
    finally:
        connection.close()
    wait_until(
        lambda: len(emails_by_event(stack, domain)) >= 50,
        timeout=60,
        what="the worker to be draining the backlog",
    )
    handled_before = len(emails_by_event(stack, domain))
    stack.postgres.docker_restart()
    back = time.time()

    result = settle(domain=domain, produced=event_ids, in_flight=in_flight_limit(stack))
    dead = take_dead_letters(stack, set(event_ids))

    assert dead == {}, f"dead-lettered while the database restarted: {sorted(dead)[:5]}"
    worker = stack.workers[0]
    handled_after = log_times(worker.logs(), "event.handled", back)
    assert handled_after, "nothing handled after the restart"
    recovery = handled_after[0] - back
    retried = sum(
        1
        for record in json_lines(worker.logs())
        if record.get("event") == "event.retry_scheduled" and record.get("database_unavailable")
    )
    note(
        f"backlog of 300, restarted after {handled_before} were emailed; database back -> "
        f"first handled {recovery:.2f}s; {retried} deliveries retried for the database; "
        f"{result.repeated_effects} repeated emails, 0 dead-lettered"
    )
    assert recovery < RECOVERY_BOUND_S
