"""``RABBITMQ_URL`` with one node or a cluster's nodes: parameters, order and redaction."""

from __future__ import annotations

import pytest

from courier_web.outbox.broker import (
    BrokerOptions,
    broker_urls,
    connection_parameters,
    redact_url,
)

CLUSTER = (
    "amqp://web:pw1@rmq-1:5672/courier;amqp://web:pw1@rmq-2:5672/courier;"
    "amqp://web:pw1@rmq-3:5672/courier?heartbeat=5"
)


def test_one_url_is_one_node_with_our_bounded_timeouts() -> None:
    options = BrokerOptions(url="amqp://u:p@rabbit:5672/courier", connect_timeout=1.5)

    [params] = connection_parameters(options)

    assert (params.host, params.port, params.virtual_host) == ("rabbit", 5672, "courier")
    assert params.socket_timeout == 1.5
    assert params.stack_timeout == 3.0
    assert params.connection_attempts == 1
    assert params.heartbeat == options.heartbeat


def test_a_cluster_is_every_node_each_with_its_own_url_options() -> None:
    every_node = connection_parameters(BrokerOptions(url=CLUSTER, heartbeat=15))

    by_host = {params.host: params for params in every_node}
    assert sorted(by_host) == ["rmq-1", "rmq-2", "rmq-3"]
    assert by_host["rmq-3"].heartbeat == 5  # from its URL
    assert by_host["rmq-1"].heartbeat == 15
    assert all(params.credentials.username == "web" for params in every_node)


def test_connections_try_the_nodes_in_varying_orders() -> None:
    options = BrokerOptions(url=CLUSTER)

    firsts = {connection_parameters(options)[0].host for _ in range(200)}

    assert firsts == {"rmq-1", "rmq-2", "rmq-3"}


@pytest.mark.parametrize("url", ["", " ; ;"])
def test_a_url_without_a_node_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match="RABBITMQ_URL names no broker"):
        broker_urls(url)


def test_redaction_hides_every_nodes_password() -> None:
    redacted = redact_url(CLUSTER)

    assert "pw1" not in redacted
    assert redacted.split(";") == [
        "amqp://web:***@rmq-1:5672/courier",
        "amqp://web:***@rmq-2:5672/courier",
        "amqp://web:***@rmq-3:5672/courier?heartbeat=5",
    ]
