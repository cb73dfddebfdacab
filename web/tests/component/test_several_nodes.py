"""``RABBITMQ_URL`` naming several nodes, some of them gone: the web reaches the one that answers.

A node that no longer resolves (its DNS name gone with it) or refuses
connections is skipped, whatever order the nodes are tried in; the publisher
publishes through the live one and ``/readyz``'s probe passes.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pika.exceptions
import pytest
from shared_contracts import ProbeSent, encode, new_envelope

from courier_web.outbox.broker import BrokerOptions, open_connection, probe_broker
from courier_web.outbox.publisher import CONFIRMED, PikaPublisher
from tests.component.conftest import Observer

pytestmark = pytest.mark.django_db(transaction=True)

PROBES = "diagnostic.probe_sent.v1"

#: Enough tries that every order of three nodes comes up (each has 1/6 per try).
TRIES = 30


def with_dead_nodes(live: str) -> str:
    parts = urlsplit(live)
    gone = parts._replace(netloc=f"{parts.username}:{parts.password}@node-gone.invalid:5672")
    refusing = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:1")
    return ";".join([gone.geturl(), refusing.geturl(), live])


def test_a_connection_reaches_the_live_node_in_any_order(amqp_url: str) -> None:
    options = BrokerOptions(url=with_dead_nodes(amqp_url), connect_timeout=1.0)

    for _ in range(TRIES):
        connection = open_connection(options)
        assert connection.is_open
        connection.close()
        probe_broker(options, timeout=1.0)


def test_the_publisher_publishes_through_the_live_node(
    amqp_url: str, observe: Callable[[str], Observer]
) -> None:
    observer = observe(PROBES)
    publisher = PikaPublisher(BrokerOptions(url=with_dead_nodes(amqp_url), connect_timeout=1.0))
    try:
        for sequence in range(5):
            publisher.close()  # a new connection, so a new order, each time
            message = encode(
                new_envelope(ProbeSent(sequence=sequence), producer="test", correlation_id="n")
            )
            assert publisher.publish(message) == CONFIRMED
    finally:
        publisher.close()
    observer.wait_for(5)
    assert len(observer.received) == 5


def test_when_no_node_answers_the_error_names_each(amqp_url: str) -> None:
    dead = ";".join(with_dead_nodes(amqp_url).split(";")[:2])

    with pytest.raises(pika.exceptions.AMQPConnectionError) as raised:
        open_connection(BrokerOptions(url=dead, connect_timeout=1.0))

    assert "no broker node answered" in str(raised.value)
    assert "node-gone.invalid:5672" in str(raised.value)
    assert "127.0.0.1:1" in str(raised.value)
