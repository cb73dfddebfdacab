"""A cluster node fails while registrations stream in: nothing is lost, nothing repeated.

The node that leads the worker's queue is the one that fails: killed with
SIGKILL (a crashed machine) and started again, or cut off the network (a
partition) and reconnected. Web, relay and workers are given all three
nodes; their connections to the failed node drop and they reconnect to the
others, the queue elects a new leader among the two, and the returning node
catches up. Every registration is emailed once, ``/readyz`` stays 200 on
both webs, and the longest time without publishing and without consuming
is measured and reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from courier_worker.queues import CRITICAL

from ..support.cluster import Cluster
from ..support.cluster_stack import ClusterStack
from ..support.polling import wait_until
from .scenario import Outcome, run_through

REGISTRATIONS = 1000
PER_SECOND = 20
#: A partition lasts until the cut-off node notices (net_ticktime, 60 s): a slower stream spans it.
PARTITION_PER_SECOND = 10
FAULT_AT = 250
RECOVER_AT = 650
#: The longest the relays may publish nothing, and the workers consume nothing
#: (docs/reliability.md, "A cluster node down"):
#: a killed node's connections break at once; a cut-off node is declared down by the
#: others only after net_ticktime (60 s, up to 75 s), and until then a channel opened
#: on them cannot publish to a queue that node led.
KILL_GAP_LIMIT = 20.0
PARTITION_GAP_LIMIT = 100.0
QUEUE = CRITICAL.name


def test_the_workers_queues_have_a_member_on_every_node(healed: ClusterStack) -> None:
    cluster = healed.nodes
    queues = cluster.queues()
    workers = {name: row for name, row in queues.items() if name.startswith("courier.worker.")}

    assert QUEUE in workers
    for name, row in workers.items():
        assert row["type"] == "quorum", name
        assert set(row["members"]) == cluster.nodenames, (name, row["members"])


def test_killing_the_queue_leader_loses_nothing(
    healed: ClusterStack, domain: str, settle: Callable[..., Any], note: Callable[[str], None]
) -> None:
    cluster = healed.nodes
    victim = cluster.leader_of(QUEUE)
    timings = Stopwatch()

    def kill() -> None:
        cluster.kill(victim)
        _wait_for_another_leader(cluster, victim.nodename, timeout=60)
        _assert_ready(healed)

    def start_again() -> None:
        timings.restart()
        cluster.start_again(victim)
        cluster.wait_whole()
        timings.lap("rejoined")

    outcome = run_through(
        healed,
        domain,
        count=REGISTRATIONS,
        per_second=PER_SECOND,
        fault_at=FAULT_AT,
        recover_at=RECOVER_AT,
        inject=kill,
        recover=start_again,
    )

    _account(
        healed,
        domain,
        outcome,
        settle,
        note,
        fault=f"SIGKILL of {victim.nodename}",
        timings=timings,
        gap_limit=KILL_GAP_LIMIT,
    )


def test_a_partitioned_node_loses_nothing(
    healed: ClusterStack, domain: str, settle: Callable[..., Any], note: Callable[[str], None]
) -> None:
    cluster = healed.nodes
    victim = cluster.leader_of(QUEUE)
    pauses_before = victim.pauses()
    timings = Stopwatch()

    def cut_off() -> None:
        timings.restart()
        cluster.disconnect(victim)
        _wait_for_another_leader(cluster, victim.nodename, timeout=120)
        # pause_minority: the node stops serving once it notices (net_ticktime).
        cluster.wait_paused(victim, pauses_before=pauses_before)
        timings.lap("paused")
        _assert_ready(healed)

    def reconnect() -> None:
        timings.restart()
        cluster.reconnect(victim)
        # ...and rejoins by itself once it sees the majority again.
        cluster.wait_whole(timeout=120)
        timings.lap("rejoined")

    outcome = run_through(
        healed,
        domain,
        count=REGISTRATIONS,
        per_second=PARTITION_PER_SECOND,
        fault_at=FAULT_AT,
        recover_at=FAULT_AT,  # as soon as the node paused
        inject=cut_off,
        recover=reconnect,
    )

    _account(
        healed,
        domain,
        outcome,
        settle,
        note,
        fault=f"partition of {victim.nodename}",
        timings=timings,
        gap_limit=PARTITION_GAP_LIMIT,
    )


class Stopwatch:
    """Seconds from the fault (or the recovery) to each milestone, for the report."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.laps: list[str] = []

    def restart(self) -> None:
        self.started = time.monotonic()

    def lap(self, what: str) -> None:
        self.laps.append(f"{what} after {time.monotonic() - self.started:.1f} s")

    def before_recovery(self) -> str:
        return f" ({', '.join(self.laps[:-1])})" if len(self.laps) > 1 else ""


def _wait_for_another_leader(cluster: Cluster, nodename: str, *, timeout: float) -> None:
    wait_until(
        lambda: cluster.leader_of(QUEUE).nodename != nodename,
        timeout=timeout,
        what=f"{QUEUE} to elect a leader other than {nodename}",
        interval=1,
    )


def _assert_ready(stack: ClusterStack) -> None:
    """What a load balancer sees: every web still ready (another node answers)."""
    for web in stack.webs:
        response = requests.get(f"{web.base_url}/readyz", timeout=15)
        assert response.status_code == 200, response.text


def _account(
    stack: ClusterStack,
    domain: str,
    outcome: Outcome,
    settle: Callable[..., Any],
    note: Callable[[str], None],
    *,
    fault: str,
    timings: Stopwatch,
    gap_limit: float,
) -> None:
    assert outcome.answers == {201: REGISTRATIONS}, outcome.answers
    assert len(outcome.rows) == REGISTRATIONS
    settle(domain=domain, produced=outcome.rows, timeout=300)
    publishing = outcome.publishing_gap(stack)
    consuming = outcome.consuming_gap(stack)
    victim = fault.rsplit(" ", 1)[-1]
    note(
        f"{fault} (leader; {outcome.clients.get(victim)} on it) at "
        f"{outcome.seconds(outcome.fault):.1f} s{timings.before_recovery()}, back at "
        f"{outcome.seconds(outcome.recovered):.1f} s ({timings.laps[-1]}), stream ended at "
        f"{outcome.seconds(outcome.finished):.1f} s; longest without publishing "
        f"{publishing.describe(outcome.began)}, without consuming "
        f"{consuming.describe(outcome.began)}; published per relay "
        f"{outcome.published_by_relay(stack)}, handled per worker "
        f"{outcome.handled_by_worker(stack)}"
    )
    assert publishing.seconds <= gap_limit, publishing
    assert consuming.seconds <= gap_limit, consuming
