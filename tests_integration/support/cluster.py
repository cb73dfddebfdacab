"""A three-node RabbitMQ cluster on the suite's network, and what tests do to its nodes.

Every node runs the suite's RabbitMQ image (``Images.rabbitmq``) with Courier's
definitions, ``infra/rabbitmq/cluster.conf`` (``pause_minority``) and the same
Erlang cookie in its ``.erlang.cookie`` (the file every image reads; the
``RABBITMQ_ERLANG_COOKIE`` variable that the compose file uses works too, but
RabbitMQ calls it deprecated). Node names are ``rabbit@rmq-1`` ... ``rabbit@rmq-3``, each the
node's hostname and network alias. Node 1 boots first and forms the cluster;
nodes 2 and 3 boot with ``infra/rabbitmq/cluster-peers.conf`` (peer discovery
from that list of names) and join it, as in the compose profile ``cluster``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
from testcontainers.core.network import Network

from .containers import RABBITMQ_DEFINITIONS, RABBITMQ_VHOST, RabbitMQ, ServiceContainer
from .polling import wait_until

CLUSTER_CONF = RABBITMQ_DEFINITIONS / "cluster.conf"
PEERS_CONF = RABBITMQ_DEFINITIONS / "cluster-peers.conf"
CLUSTER_4_CONF = b"deprecated_features.permit.global_qos = false\n"
SIZE = 3
#: Erlang distribution admits only nodes with the same cookie; this one exists for tests only.
COOKIE = b"COURIERINTEGRATIONCLUSTERCOOKIE"
#: Schedulers that sleep instead of spinning: three idle nodes on two cores stay idle.
QUIET_SCHEDULERS = "+sbwt none +sbwtdcpu none +sbwtdio none"
#: What ``pause_minority`` logs when a node finds itself cut off from the majority.
PAUSED = "Cluster minority/secondary status detected"

T = TypeVar("T")


class ClusterNode(RabbitMQ):
    """One node of the cluster: ``rabbit@rmq-N`` at hostname and alias ``rmq-N``."""

    def __init__(self, image: str, network: Network, number: int) -> None:
        # Set before the base class reads it: it becomes the network alias.
        self.alias = f"rmq-{number}"
        super().__init__(image, network)
        self.nodename = f"rabbit@{self.alias}"
        self.with_kwargs(hostname=self.alias)
        self.with_env("RABBITMQ_NODENAME", self.nodename)
        self.with_env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", QUIET_SCHEDULERS)
        self.with_copy_into_container(CLUSTER_CONF, "/etc/rabbitmq/conf.d/40-cluster.conf")
        if number > 1:
            self.with_copy_into_container(PEERS_CONF, "/etc/rabbitmq/conf.d/41-cluster-peers.conf")
        if self.version >= (4,):
            # In place of courier-4.conf (copied later, so it wins): on 4.0.5 a node that
            # pause_minority paused fails to start again while transient non-exclusive
            # queues are denied (the check runs before its tables are loaded) and stays
            # down until restarted by hand. docs/reliability.md, "A cluster node down".
            self.with_copy_into_container(CLUSTER_4_CONF, "/etc/rabbitmq/conf.d/31-courier-4.conf")
        # Owned by root here; both images' entrypoints chown /var/lib/rabbitmq to rabbitmq.
        self.with_copy_into_container(COOKIE, "/var/lib/rabbitmq/.erlang.cookie", mode=0o400)

    def sees_whole(self, nodenames: set[str]) -> bool:
        """Whether this node sees exactly ``nodenames`` running, and no partition."""
        status = json.loads(self.rabbitmqctl("-q", "cluster_status", "--formatter", "json"))
        return set(status["running_nodes"]) == nodenames and not status.get("partitions")

    def pauses(self) -> int:
        """How often this node has paused itself in a minority (its log says so each time)."""
        return self.logs().count(PAUSED)

    def container_id(self) -> str:
        return str(self.get_wrapped_container().id)


@dataclass
class Cluster:
    """Three clustered nodes; ``disconnected`` are those a test cut off the network."""

    nodes: list[ClusterNode]
    network: Network

    def __post_init__(self) -> None:
        self.disconnected: set[str] = set()

    @property
    def nodenames(self) -> set[str]:
        return {node.nodename for node in self.nodes}

    def urls_for(self, credentials: tuple[str, str]) -> str:
        """Every node's URL for a service container, ``;``-separated (``RABBITMQ_URL``)."""
        return ";".join(node.internal_url_for(credentials) for node in self.nodes)

    def node(self, nodename: str) -> ClusterNode:
        [found] = [node for node in self.nodes if node.nodename == nodename]
        return found

    def is_up(self, node: ClusterNode) -> bool:
        """Running and on the network (not necessarily part of a majority)."""
        container = node.get_wrapped_container()
        container.reload()
        return container.status == "running" and node.alias not in self.disconnected

    def reachable(self) -> list[ClusterNode]:
        return [node for node in self.nodes if self.is_up(node)]

    def queues(self) -> dict[str, dict[str, Any]]:
        """The vhost's queues with their type, leader and members, asked of a reachable node."""
        output = self.reachable()[0].rabbitmqctl(
            "-q", "list_queues", "-p", RABBITMQ_VHOST, "name", "type", "leader", "members",
            "--formatter", "json",
        )  # fmt: skip
        return {row["name"]: row for row in json.loads(output)}

    def leader_of(self, queue: str) -> ClusterNode:
        """The node that leads ``queue`` now (a quorum queue)."""
        return self.node(str(self.queues()[queue]["leader"]))

    def wait_whole(self, *, timeout: float = 180) -> None:
        """Until every node runs, answers AMQP and sees all three nodes running."""

        def whole() -> bool:
            return all(node.sees_whole(self.nodenames) for node in self.nodes)

        wait_until(whole, timeout=timeout, what="all three nodes to run as one cluster", interval=1)
        for node in self.nodes:
            node.wait_ready()

    def wait_paused(self, node: ClusterNode, *, pauses_before: int, timeout: float = 150) -> None:
        """Until a cut-off ``node`` paused itself (``pause_minority``, after ``net_ticktime``)."""
        wait_until(
            lambda: node.pauses() > pauses_before,
            timeout=timeout,
            what=f"{node.nodename} to pause in the minority",
            interval=1,
        )

    def kill(self, node: ClusterNode) -> None:
        """SIGKILL the node's container (a crashed machine, an OOM kill)."""
        node.kill()

    def start_again(self, node: ClusterNode) -> None:
        """``docker start`` a killed node; it rejoins with its data."""
        node.docker_start()

    def disconnect(self, node: ClusterNode) -> None:
        """Cut the node off the network: neither its peers nor any client reach it."""
        self._docker_network().disconnect(node.container_id(), force=True)
        self.disconnected.add(node.alias)

    def reconnect(self, node: ClusterNode) -> None:
        """Put the node back on the network under its alias."""
        self.network.connect(node.container_id(), network_aliases=[node.alias])
        self.disconnected.discard(node.alias)

    def heal(self) -> None:
        """Whatever a test did: every node back on the network, running, one cluster again.

        A node reconnected before it noticed the partition never paused, and
        the cluster then reports a partition that only a restart ends: such
        a node is restarted.
        """
        for node in self.nodes:
            if node.alias in self.disconnected:
                self.reconnect(node)
            if not self.is_up(node):
                self.start_again(node)
        try:
            self.wait_whole(timeout=60)
        except AssertionError:
            for node in self.nodes:
                if not _answers(lambda node=node: node.sees_whole(self.nodenames)):
                    node.docker_restart()
            self.wait_whole()

    def _docker_network(self) -> Any:
        return docker.from_env().networks.get(self.network.id)


def start_cluster(image: str, network: Network, cleanup: contextlib.ExitStack) -> Cluster:
    """Node 1, then the other two together; each is removed by ``cleanup``, whatever happens."""
    nodes = [ClusterNode(image, network, number) for number in range(1, SIZE + 1)]
    for node in nodes:
        cleanup.callback(remove_quietly, node)
    first, *others = nodes
    first.start()
    in_parallel(lambda node: node.start(), others)
    cluster = Cluster(nodes, network)
    cluster.wait_whole()
    return cluster


def _answers(probe: Callable[[], bool]) -> bool:
    """``probe()``, or False when it fails (a paused node refuses most commands)."""
    try:
        return probe()
    except AssertionError:
        return False


def remove_quietly(container: ServiceContainer) -> None:
    with contextlib.suppress(Exception):
        container.stop()


def in_parallel(start: Callable[[T], object], items: Iterable[T]) -> None:
    """Run ``start`` on every item at once; re-raise the first failure."""
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        for result in [pool.submit(start, item) for item in items]:
            result.result()
