"""One cluster scenario: registrations stream in while a node fails and comes back; then count.

``run_through`` streams the registrations over every web container, injects
the fault once ``fault_at`` were answered, ends it once ``recover_at`` were,
and returns what happened when. ``Outcome.publishing_gap`` and
``consuming_gap`` read the longest time without publishing (the relays'
``outbox.published`` lines) and without consuming (the workers'
``event.handled`` lines) for the test's events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..support.accounting import outbox_rows
from ..support.cluster_clients import clients_by_node
from ..support.cluster_stack import ClusterStack
from .gaps import Gap, count_by_log, event_times, longest_gap
from .traffic import RegistrationStream


@dataclass(frozen=True)
class Outcome:
    """What a scenario did: the answers, the outbox rows, and when the fault began and ended."""

    answers: Counter[int | str]
    rows: dict[str, str]
    #: Relays and workers connected to each node when the fault began.
    clients: dict[str, dict[str, int]]
    began: datetime
    fault: datetime
    recovered: datetime
    finished: datetime

    def publishing_gap(self, stack: ClusterStack) -> Gap:
        logs = [relay.logs() for relay in stack.relays]
        return longest_gap(event_times(logs, "outbox.published", self.rows))

    def consuming_gap(self, stack: ClusterStack) -> Gap:
        logs = [worker.logs() for worker in stack.workers]
        return longest_gap(event_times(logs, "event.handled", self.rows))

    def published_by_relay(self, stack: ClusterStack) -> list[int]:
        logs = {f"relay-{n}": relay.logs() for n, relay in enumerate(stack.relays, start=1)}
        return list(count_by_log(logs, "outbox.published", self.rows).values())

    def handled_by_worker(self, stack: ClusterStack) -> list[int]:
        logs = {worker.alias: worker.logs() for worker in stack.workers}
        return list(count_by_log(logs, "event.handled", self.rows).values())

    def seconds(self, moment: datetime) -> float:
        return (moment - self.began).total_seconds()


def run_through(
    stack: ClusterStack,
    domain: str,
    *,
    count: int,
    per_second: float,
    fault_at: int,
    recover_at: int,
    inject: Callable[[], None],
    recover: Callable[[], None],
) -> Outcome:
    """Stream ``count`` registrations; fault at ``fault_at`` answers, recover at ``recover_at``."""
    stream = RegistrationStream(
        [web.base_url for web in stack.webs], domain, count=count, per_second=per_second
    )
    began = _now()
    stream.start()
    try:
        stream.wait_answered(fault_at)
        fault = _now()
        clients = clients_by_node(stack.nodes)
        inject()
        stream.wait_answered(recover_at)
        recovered = _now()
        recover()
    finally:
        answers = stream.finish()
    rows = outbox_rows(stack, domain)
    return Outcome(answers, rows, clients, began, fault, recovered, _now())


def _now() -> datetime:
    return datetime.now(UTC)
