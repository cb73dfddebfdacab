"""``RABBITMQ_URL`` naming several nodes, some of them gone: the web reaches the one that answers.

A node that no longer resolves (its DNS name gone with it), refuses
connections, or accepts them and then says nothing (a frozen broker) is
skipped, whatever order the nodes are tried in; the publisher publishes
through the live one and ``/readyz``'s probe passes.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
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


@pytest.fixture
def silent_node() -> Iterator[int]:
    """A port whose listener accepts TCP connections and never answers (a frozen broker)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # the kernel completes the handshakes; nothing reads
        yield int(listener.getsockname()[1])


def test_a_silent_node_is_a_connection_error_and_the_next_node_is_tried(
    amqp_url: str, silent_node: int
) -> None:
    parts = urlsplit(amqp_url)
    silent = parts._replace(
        netloc=f"{parts.username}:{parts.password}@127.0.0.1:{silent_node}"
    ).geturl()

    # Alone: a connection error like any other (pika's own is no AMQPError).
    with pytest.raises(pika.exceptions.AMQPConnectionError) as raised:
        open_connection(BrokerOptions(url=silent, connect_timeout=0.3))
    assert "Timeout" in str(raised.value)
    # Beside a live node: whichever order they are tried in, the live one answers.
    options = BrokerOptions(url=f"{silent};{amqp_url}", connect_timeout=0.3)
    for _ in range(6):
        connection = open_connection(options)
        assert connection.is_open
        connection.close()


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
