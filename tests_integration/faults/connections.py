"""Who holds which AMQP connection: the broker's list and the clients' own sockets.

A connection is known by its client's address and port, as both ends see it:
the broker lists ``<client ip>:<port> -> <broker ip>:5672``, and the client's
kernel lists the same local port in ``/proc/net/tcp``. So a test can tell
that a client dropped a connection (its socket is gone), and that it opened a
new one (the broker lists a port it did not list before), without asking the
client's code anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..support.containers import RABBITMQ_VHOST, RabbitMQ, ServiceContainer

AMQP_PORT = 5672
_ESTABLISHED = "01"


def container_ip(container: ServiceContainer) -> str:
    """The container's address on the suite's network (it has only that one)."""
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    [network] = wrapped.attrs["NetworkSettings"]["Networks"].values()
    return str(network["IPAddress"])


def started_at(container: ServiceContainer) -> str:
    """When the container's main process started: it changes with every restart."""
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    state = wrapped.attrs["State"]
    assert state["Status"] == "running", f"{container.alias} is {state['Status']}"
    return str(state["StartedAt"])


def broker_ports(
    rabbitmq: RabbitMQ, clients: Mapping[str, ServiceContainer]
) -> dict[str, set[int]]:
    """The client ports of the AMQP connections the broker has from each client container."""
    output = rabbitmq.rabbitmqctl(
        "-q", "list_connections", "-p", RABBITMQ_VHOST, "name", "--formatter", "json"
    )
    by_ip: dict[str, set[int]] = {}
    for row in json.loads(output):
        client = str(row["name"]).split(" -> ", 1)[0]
        ip, _, port = client.rpartition(":")
        by_ip.setdefault(ip, set()).add(int(port))
    return {name: by_ip.get(container_ip(c), set()) for name, c in clients.items()}


def established_ports(container: ServiceContainer) -> set[int]:
    """Local ports of the container's established TCP connections to the broker's AMQP port."""
    code, output = container.run("cat", "/proc/net/tcp")
    assert code == 0, output
    ports = set()
    for line in output.splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state == _ESTABLISHED and int(remote.split(":")[1], 16) == AMQP_PORT:
            ports.add(int(local.split(":")[1], 16))
    return ports
