"""Which services use which node of the cluster, from the broker's list of connections."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from .cluster import Cluster, ClusterNode


def clients_by_node(cluster: Cluster) -> dict[str, dict[str, int]]:
    """Per node, how many relays (by connection name) and workers (by address) use it."""
    output = cluster.reachable()[0].rabbitmqctl(
        "-q", "list_connections", "name", "client_properties", "--formatter", "json"
    )
    by_address = {_address(node, cluster.network.name): node.nodename for node in cluster.nodes}
    relays: Counter[str] = Counter()
    workers: dict[str, set[str]] = defaultdict(set)
    for row in json.loads(output):
        # A connection's name reads "<client ip>:<port> -> <node ip>:5672".
        client, _, server = str(row["name"]).partition(" -> ")
        node = by_address.get(server.rsplit(":", 1)[0], server)
        properties = dict(_pairs(row.get("client_properties")))
        if properties.get("connection_name") == "courier-web relay":
            relays[node] += 1
        elif properties.get("product") == "py-amqp":  # Celery's connections
            workers[node].add(client.rsplit(":", 1)[0])
    return {
        name: {"relays": relays[name], "workers": len(workers[name])}
        for name in sorted(cluster.nodenames)
    }


def _address(node: ClusterNode, network_name: str) -> str:
    """The node's IP address on the suite's network (empty while cut off)."""
    container = node.get_wrapped_container()
    container.reload()
    networks = container.attrs["NetworkSettings"]["Networks"]
    return str(networks.get(network_name, {}).get("IPAddress", ""))


def _pairs(properties: Any) -> list[tuple[str, Any]]:
    """rabbitmqctl's JSON shows client properties as [name, type, value] triples or a map."""
    if isinstance(properties, dict):
        return list(properties.items())
    return [(str(item[0]), item[-1]) for item in properties or [] if isinstance(item, list)]
