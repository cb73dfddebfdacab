"""``RABBITMQ_URL`` with a cluster's nodes: kombu's failover list, from a random node on."""

from __future__ import annotations

import pytest
from courier_worker.celery_app import celery_config, spread_over_nodes
from courier_worker.settings import Settings
from pydantic import ValidationError

NODES = tuple(f"amqp://w:pw@rmq-{n}:5672/courier" for n in (1, 2, 3))


def test_several_nodes_are_split_in_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_URL", " ; ".join(NODES))

    assert Settings().broker_urls == NODES


def test_a_url_naming_no_node_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_URL", " ; ")

    with pytest.raises(ValidationError, match="RABBITMQ_URL names no broker"):
        Settings()


def test_the_failover_list_keeps_the_ring_and_starts_anywhere() -> None:
    lists = {spread_over_nodes(NODES) for _ in range(200)}

    assert lists == {
        ";".join(NODES),
        ";".join(NODES[1:] + NODES[:1]),
        ";".join(NODES[2:] + NODES[:2]),
    }


def test_celery_gets_every_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_URL", ";".join(NODES))

    broker_url = celery_config(Settings())["broker_url"]

    assert sorted(broker_url.split(";")) == list(NODES)


def test_one_node_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@localhost:5672/%2F")

    assert celery_config(Settings())["broker_url"] == "amqp://guest:guest@localhost:5672/%2F"
