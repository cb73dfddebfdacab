"""Cluster scenarios: Courier on a three-node RabbitMQ cluster, with several of each service.

One cluster (three nodes), PostgreSQL, the SMTP sink, two webs, two relays
and three workers, every service given all three nodes, serve every test
here: starting them costs about a minute of the CI machine's two cores.
Each test starts from a whole cluster and ``healed`` makes it whole again
afterwards (killed nodes started, cut-off nodes reconnected), so that the
next test's accounting starts from the same place. Each test counts only
its own registrations (a domain of its own).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..support import accounting
from ..support.cluster_stack import ClusterStack, running_cluster_stack
from ..support.images import Images

_OURS: list[str] = []


@pytest.fixture(scope="package")
def cluster_stack() -> Iterator[ClusterStack]:
    with running_cluster_stack(Images.from_environment(), webs=2, relays=2, workers=3) as stack:
        yield stack


@pytest.fixture
def healed(cluster_stack: ClusterStack) -> Iterator[ClusterStack]:
    """The shared stack, its cluster whole again after the test whatever the test did."""
    cluster_stack.nodes.wait_whole()
    yield cluster_stack
    cluster_stack.nodes.heal()


@pytest.fixture
def settle(request: pytest.FixtureRequest, cluster_stack: ClusterStack) -> Callable[..., Any]:
    """``support.accounting.settle`` for this test: ``settle(domain=..., produced=...)``."""
    _OURS.append(request.node.name)
    return functools.partial(accounting.settle, cluster_stack, test=request.node.name)


@pytest.fixture
def note(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Report a measurement: logged, and printed under the test's accounting at the end."""
    return functools.partial(accounting.note, request.node.name)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    ours = [record for record in accounting.RECORDED if record.test in _OURS]
    if ours:
        terminalreporter.section("cluster accounting")
    for record in ours:
        terminalreporter.write_line(record.line())
        for test, text in accounting.NOTES:
            if test == record.test:
                terminalreporter.write_line(f"    {text}")
