"""Rolling deploys in either order: old and new web and worker images side by side.

The next images change one contract (``rolling.py``): ``user.registered.v1``
revision 2 (a new optional field, set by the new web, read by the new
worker) and ``user.registered.v2`` published beside v1 by the new web. In
each case every registration is emailed exactly once (the fault suite's
accounting, by the v1 event id), every v2 event is handled exactly once, and
at the end nothing sits in a dead-letter queue or as a failed outbox row.
What an operator does on the way is what docs/deploying.md says.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from ..faults.helpers import container_status, start_worker_again
from ..support import accounting
from ..support.clients import WebClient
from ..support.containers import Relay, Web
from ..support.polling import wait_until
from ..support.stack import Stack
from .rolling import (
    V1,
    V2,
    VIA_API,
    NextImages,
    OutboxEvent,
    dead_letters,
    email_texts,
    handled_counts,
    of_type,
    outbox_events,
    replay_failed_rows,
    requeue_dead_letters,
    retire_worker,
    start_web,
    start_worker,
    unbind_v2,
)

#: Registrations per case (the rolling restart registers for as long as it takes, at least this).
REGISTRATIONS = 20


@pytest.fixture(scope="module")
def next_images(stack: Stack) -> NextImages:
    return NextImages.from_environment(stack.images.web, stack.images.worker)


@pytest.fixture(scope="module")
def next_web(stack: Stack, next_images: NextImages) -> Iterator[Web]:
    """The new web and its relay, beside the session's old ones (a web rollout half-way)."""
    web, relay = start_web(stack, next_images.web)
    try:
        yield web
    finally:
        _stop(web, relay)


def _stop(*containers: Web | Relay) -> None:
    for container in containers:
        container.stop()


@pytest.fixture
def old_stack(stack: Stack) -> Iterator[Stack]:
    """The session stack; afterwards as the other tests expect it: one old worker, no v2 binding."""
    assert len(stack.workers) == 1, "the deploy tests start from the single session worker"
    unbind_v2(stack)  # whatever an earlier run left
    yield stack
    first, *others = stack.workers
    for worker in others:
        stack.remove_worker(worker)
    if container_status(first) != "running":
        start_worker_again(first)
    unbind_v2(stack)


def _register(web: Web, domain: str, count: int, *, prefix: str) -> None:
    client = WebClient(web.base_url)
    for n in range(count):
        response = client.register(f"{prefix}{n}@{domain}")
        assert response.status_code == 201, response.text


def _published(stack: Stack, domain: str, *, v1: int, v2: int) -> list[OutboxEvent]:
    """The registrations' outbox rows once the relays are done with them (sent or failed)."""

    def done() -> list[OutboxEvent] | None:
        events = outbox_events(stack, domain)
        counts = (len(of_type(events, V1)), len(of_type(events, V2)))
        settled = all(event.status != "pending" for event in events)
        return events if counts == (v1, v2) and settled else None

    return wait_until(done, timeout=120, what=f"{v1} v1 and {v2} v2 outbox rows published")


def _ids(events: list[OutboxEvent]) -> set[str]:
    return {event.event_id for event in events}


def _assert_handled_once(stack: Stack, ids: set[str], logs: list[str], what: str) -> None:
    assert ids, f"{what}: none to wait for"

    def all_handled() -> Counter[str] | None:
        counts = handled_counts(stack, logs)
        return counts if ids <= counts.keys() else None

    handled = wait_until(all_handled, timeout=120, what=what)
    twice = sorted(event_id for event_id in ids if handled[event_id] > 1)
    assert not twice, f"{what}: handled more than once: {twice[:5]}"


def _assert_nothing_left(stack: Stack, domain: str, ids: set[str]) -> None:
    """Every outbox row of ``domain`` sent, and no dead letter of ``ids`` in the worker's queues."""
    wait_until(
        lambda: {event.status for event in outbox_events(stack, domain)} == {"sent"},
        timeout=60,
        what="every outbox row of the test sent (none failed, none pending)",
    )
    running = next(w for w in stack.workers if container_status(w) == "running")
    left = set(dead_letters(running)) & ids
    assert not left, f"dead letters left: {sorted(left)[:5]}"


def test_new_web_with_old_worker(
    old_stack: Stack, next_web: Web, next_images: NextImages, domain: str
) -> None:
    """An old worker reads revision 2 as revision 1; v2 waits, unroutable, for a worker of v2."""
    stack = old_stack
    _register(next_web, domain, REGISTRATIONS, prefix="a")
    events = _published(stack, domain, v1=REGISTRATIONS, v2=REGISTRATIONS)
    v1, v2 = of_type(events, V1), of_type(events, V2)

    accounting.settle(stack, test="new_web_old_worker", domain=domain, produced=_ids(v1))
    texts = email_texts(stack, domain)
    assert not [t for t in texts.values() if VIA_API in t], "the old worker knows no registered_via"
    # No worker binds v2 yet: the relay's rows came back unroutable (never dead-lettered).
    assert {(e.status, e.last_error.startswith("unroutable")) for e in v2} == {("failed", True)}

    # The worker rollout (here all at once), then the operator's one step: replay.
    session, logs = stack.workers[0], list[str]()
    session.docker_stop()
    upgraded = start_worker(stack, next_images.worker, "worker-next-a")
    replay_failed_rows(next_web, _ids(v2))
    _assert_handled_once(stack, _ids(v2), logs, "the replayed v2 events")
    _assert_nothing_left(stack, domain, _ids(events))
    assert upgraded.handled_event_ids() >= _ids(v2)


def test_old_web_with_new_worker(old_stack: Stack, next_images: NextImages, domain: str) -> None:
    """A new worker reads revision 1 (no registered_via) as revision 2 with the field's default."""
    stack = old_stack
    assert stack.web is not None
    stack.workers[0].docker_stop()
    start_worker(stack, next_images.worker, "worker-next-b")
    _register(stack.web, domain, REGISTRATIONS, prefix="b")
    events = _published(stack, domain, v1=REGISTRATIONS, v2=0)

    accounting.settle(stack, test="old_web_new_worker", domain=domain, produced=_ids(events))
    texts = email_texts(stack, domain)
    assert len(texts) == REGISTRATIONS
    assert not [t for t in texts.values() if VIA_API in t], "revision 1 says nothing of it"
    _assert_nothing_left(stack, domain, _ids(events))


class _Registrar(threading.Thread):
    """Registers users through the old and the new web in turn until told to stop."""

    def __init__(self, webs: list[Web], domain: str) -> None:
        super().__init__(daemon=True)
        self.clients = [WebClient(web.base_url) for web in webs]
        self.domain = domain
        self.count = 0
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            client = self.clients[self.count % len(self.clients)]
            try:
                response = client.register(f"c{self.count}@{self.domain}")
                if response.status_code != 201:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
            except Exception as exc:  # reported by the test, not lost in the thread
                self.failures.append(repr(exc))
            self.count += 1
            self.stopping.wait(0.25)  # a steady trickle across every step of the rollout

    def at_least(self, more: int) -> None:
        """Wait until ``more`` further registrations went out."""
        target = self.count + more
        wait_until(lambda: self.count >= target, timeout=60, what=f"{target} registrations")


def test_rolling_restart_of_workers_with_both_webs(
    old_stack: Stack, next_web: Web, next_images: NextImages, domain: str
) -> None:
    """Two old workers replaced one by one by new ones while both webs take registrations."""
    stack = old_stack
    assert stack.web is not None
    old_first = stack.workers[0]
    retired: list[str] = []
    old_second = start_worker(stack, stack.images.worker, "worker-old-2")
    registrar = _Registrar([stack.web, next_web], domain)
    registrar.start()
    try:
        registrar.at_least(5)  # old workers only: v2 is unroutable
        first = start_worker(stack, next_images.worker, "worker-next-c1")
        registrar.at_least(5)  # old and new workers share the queue, bound to v2 now
        old_first.docker_stop()
        registrar.at_least(5)
        second = start_worker(stack, next_images.worker, "worker-next-c2")
        registrar.at_least(5)
        retire_worker(stack, old_second, retired)
        registrar.at_least(5)  # new workers only
    finally:
        registrar.stopping.set()
        registrar.join(timeout=60)
    assert not registrar.failures, registrar.failures[:5]
    total = registrar.count
    assert total >= REGISTRATIONS
    from_next_web = total // 2  # the new web took every second registration
    events = _published(stack, domain, v1=total, v2=from_next_web)
    v1, v2 = of_type(events, V1), of_type(events, V2)

    accounting.settle(
        stack,
        test="rolling_restart_both_webs",
        domain=domain,
        produced=_ids(v1),
        extra_logs=retired,
    )
    # Revision 2's field is used by exactly the new workers, on the new web's registrations.
    texts = email_texts(stack, domain)
    by_new = first.handled_event_ids() | second.handled_event_ids()
    next_web_users = {event.user_id for event in v2}
    for event in v1:
        expected = event.user_id in next_web_users and event.event_id in by_new
        assert (VIA_API in texts[event.event_id]) == expected, event

    # v2 reached old workers in two ways; both are put right by one command each.
    unroutable = {e.event_id for e in v2 if e.status == "failed"}
    assert unroutable, "the new web's first v2 events went out before any worker bound v2"
    assert all(e.last_error.startswith("unroutable") for e in v2 if e.status == "failed")
    letters = dead_letters(first)
    refused = set(letters) & _ids(v2)
    assert {letters[event_id] for event_id in refused} <= {"unknown-event-type"}, letters
    assert not set(letters) & _ids(v1), "a v1 event was dead-lettered"
    if refused:
        requeue_dead_letters(first, refused)
    if unroutable:
        replay_failed_rows(next_web, unroutable)
    _assert_handled_once(stack, _ids(v2), retired, "every v2 event, after the rollout")
    _assert_nothing_left(stack, domain, _ids(events))
    accounting.note(
        "rolling_restart_both_webs",
        f"{total} registrations ({from_next_web} on the new web); v2 unroutable before the "
        f"first new worker: {len(unroutable)}, dead-lettered by an old worker: {len(refused)}",
    )
