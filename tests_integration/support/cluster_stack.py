"""Courier on a three-node RabbitMQ cluster: several webs, relays and workers, all given every node.

Each service's ``RABBITMQ_URL`` lists the three nodes, ``;``-separated: the
web's publisher tries them in a random order at each connection, and Celery
starts at a random node and goes round the list when its connection drops.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from testcontainers.core.network import Network

from .cluster import Cluster, in_parallel, remove_quietly, start_cluster
from .containers import (
    RABBITMQ_WEB_USER,
    RABBITMQ_WORKER_USER,
    Postgres,
    Relay,
    ServiceContainer,
    SmtpSink,
    Web,
    Worker,
)
from .images import Images
from .stack import Stack


@dataclass
class ClusterStack(Stack):
    """The stack with ``cluster`` for its broker; ``web``/``relay`` are the first of each."""

    cluster: Cluster | None = None
    webs: list[Web] = field(default_factory=list)
    relays: list[Relay] = field(default_factory=list)

    @property
    def nodes(self) -> Cluster:
        assert self.cluster is not None
        return self.cluster

    def web_env(self) -> dict[str, str]:
        return {**super().web_env(), "RABBITMQ_URL": self.nodes.urls_for(RABBITMQ_WEB_USER)}

    def worker_env(self) -> dict[str, str]:
        return {**super().worker_env(), "RABBITMQ_URL": self.nodes.urls_for(RABBITMQ_WORKER_USER)}

    def new_web(self, number: int) -> Web:
        env = self.web_env()
        if number > 1:  # the first web migrates the database; two at once would race
            env["WEB_MIGRATE_ON_START"] = "false"
        web = Web(self.images.web, self.network, env, alias=f"web-{number}")
        self.webs.append(web)  # registered before start, so cleanup sees it
        return web

    def new_relay(self) -> Relay:
        relay = Relay(self.images.web, self.network, self.web_env())
        self.relays.append(relay)
        return relay

    def new_worker(self) -> Worker:
        alias = f"worker-{len(self.workers) + 1}"
        worker = Worker(self.images.worker, self.network, self.worker_env(), alias=alias)
        self.workers.append(worker)
        return worker

    def service_containers(self) -> list[Web | Relay]:
        return [*self.webs, *self.relays]


@contextlib.contextmanager
def running_cluster_stack(
    images: Images, *, webs: int, relays: int, workers: int
) -> Iterator[ClusterStack]:
    """The cluster, PostgreSQL and the SMTP sink, then the services; all removed afterwards."""
    with contextlib.ExitStack() as cleanup:
        network = Network()
        network.create()
        cleanup.callback(network.remove)
        postgres = Postgres(images.postgres, network)
        smtp = SmtpSink(images.smtp_sink, network)
        for container in (postgres, smtp):
            cleanup.callback(remove_quietly, container)
        clusters: list[Cluster] = []
        in_parallel(
            lambda begin: begin(),
            [
                lambda: clusters.append(start_cluster(images.rabbitmq, network, cleanup)),
                postgres.start,
                smtp.start,
            ],
        )
        postgres.create_databases()
        [cluster] = clusters
        stack = ClusterStack(images, network, cluster.nodes[0], postgres, smtp, cluster=cluster)
        cleanup.callback(_stop_services, stack)
        # The first web migrates and the first worker creates its tables and
        # declares its queues (after the cluster formed: its quorum queues get a
        # member on every node); the rest start together.
        in_parallel(start, [stack.new_web(1), stack.new_worker()])
        later: list[ServiceContainer] = [stack.new_web(n) for n in range(2, webs + 1)]
        later += [stack.new_relay() for _ in range(relays)]
        later += [stack.new_worker() for _ in range(workers - 1)]
        in_parallel(start, later)
        stack.web, stack.relay = stack.webs[0], stack.relays[0]
        yield stack


def start(container: ServiceContainer) -> None:
    container.start()


def _stop_services(stack: ClusterStack) -> None:
    for container in [*stack.service_containers(), *stack.workers]:
        with contextlib.suppress(Exception):
            container.stop()
