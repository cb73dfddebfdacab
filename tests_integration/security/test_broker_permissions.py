"""Least privilege on the broker (infra/rabbitmq/definitions.json), proven on the live broker.

Web may publish to ``courier.events`` and its own dead letters, and read its
own result queue, nothing else; the worker may declare, bind and consume its
own queues, publish its retries and dead letters, and publish to
``courier.events`` its result events only (topic permissions). A refusal closes the channel with 403
ACCESS_REFUSED; publishes use publisher confirms, so the refusal is observed
(without them a refused publish is fire-and-forget).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pika
import pika.exceptions
import pytest
from courier_web.consumer.topology import DEAD_LETTER_EXCHANGE as WEB_DEAD_LETTER_EXCHANGE
from courier_web.consumer.topology import DEAD_LETTER_QUEUE as WEB_DEAD_LETTER_QUEUE
from courier_web.consumer.topology import RESULTS_QUEUE as WEB_RESULTS_QUEUE
from courier_worker.queues import CRITICAL
from pika.adapters.blocking_connection import BlockingChannel
from shared_contracts.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE

from ..support.containers import RABBITMQ_WEB_USER, RABBITMQ_WORKER_USER
from ..support.stack import Stack

ACCESS_REFUSED = 403
#: Routed nowhere: a permitted publish is confirmed and reaches no queue.
NOWHERE = "courier.tests.permission-probe"


@pytest.fixture
def as_web(stack: Stack) -> Iterator[pika.BlockingConnection]:
    connection = stack.rabbitmq.connection(RABBITMQ_WEB_USER)
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture
def as_worker(stack: Stack) -> Iterator[pika.BlockingConnection]:
    connection = stack.rabbitmq.connection(RABBITMQ_WORKER_USER)
    yield connection
    if connection.is_open:
        connection.close()


def _refused(
    action: Callable[[BlockingChannel], object], connection: pika.BlockingConnection
) -> str:
    """Run ``action`` on a fresh channel; it must be refused with 403. Returns the reply text."""
    channel = connection.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        action(channel)
    assert refused.value.reply_code == ACCESS_REFUSED, refused.value
    assert "ACCESS_REFUSED" in refused.value.reply_text
    return str(refused.value.reply_text)


def _confirmed_publish(channel: BlockingChannel, exchange: str, routing_key: str) -> None:
    channel.confirm_delivery()
    channel.basic_publish(
        exchange=exchange,
        routing_key=routing_key,
        body=b"{}",
        properties=pika.BasicProperties(content_type="application/json"),
    )


def test_web_may_publish_to_the_events_exchange(as_web: pika.BlockingConnection) -> None:
    channel = as_web.channel()
    channel.exchange_declare(
        EVENTS_EXCHANGE, passive=True
    )  # what OUTBOX_DECLARE_EXCHANGE=passive does
    _confirmed_publish(channel, EVENTS_EXCHANGE, NOWHERE)  # raises if nacked or refused
    channel.close()


def test_web_cannot_consume_the_workers_queue(as_web: pika.BlockingConnection) -> None:
    queue = CRITICAL.name
    text = _refused(lambda ch: ch.basic_consume(queue, lambda *_: None), as_web)
    assert f"queue '{queue}'" in text
    _refused(lambda ch: ch.basic_get(queue, auto_ack=False), as_web)


def test_web_cannot_declare_queues_or_exchanges(as_web: pika.BlockingConnection) -> None:
    # The worker's own queue, with its real arguments, and a queue of web's own.
    _refused(
        lambda ch: ch.queue_declare(
            CRITICAL.name, durable=True, arguments={"x-queue-type": "quorum"}
        ),
        as_web,
    )
    _refused(lambda ch: ch.queue_declare("courier.web.sneaky", durable=True), as_web)
    _refused(lambda ch: ch.queue_declare("", exclusive=True), as_web)  # server-named
    _refused(lambda ch: ch.exchange_declare(EVENTS_EXCHANGE, "topic", durable=True), as_web)


def test_web_cannot_publish_anywhere_else(as_web: pika.BlockingConnection) -> None:
    _refused(lambda ch: _confirmed_publish(ch, DEAD_LETTER_EXCHANGE, NOWHERE), as_web)
    _refused(lambda ch: _confirmed_publish(ch, "", CRITICAL.name), as_web)


def test_worker_publishes_its_results_and_no_other_event(
    as_worker: pika.BlockingConnection,
) -> None:
    # Topic permissions: courier.events, with the routing keys of its results only.
    channel = as_worker.channel()
    _confirmed_publish(channel, EVENTS_EXCHANGE, "report.failed.v0")  # routed nowhere
    channel.close()
    for forged in ("user.registered.v1", "report.requested.v1", NOWHERE):
        text = _refused(
            lambda ch, key=forged: _confirmed_publish(ch, EVENTS_EXCHANGE, key), as_worker
        )
        assert f"topic '{forged}'" in text or forged in text, text


def test_web_reads_its_own_queue_only(as_web: pika.BlockingConnection) -> None:
    channel = as_web.channel()
    channel.queue_declare(WEB_RESULTS_QUEUE, passive=True)  # what CONSUMER_DECLARE=passive does
    tag = channel.basic_consume(WEB_RESULTS_QUEUE, lambda *_: None)
    channel.basic_cancel(tag)  # anything it took goes back to the queue
    channel.close()
    _refused(lambda ch: ch.basic_consume(WEB_DEAD_LETTER_QUEUE, lambda *_: None), as_web)
    _refused(lambda ch: ch.queue_bind(WEB_RESULTS_QUEUE, EVENTS_EXCHANGE, "user.#"), as_web)


def test_web_may_publish_its_own_dead_letters(as_web: pika.BlockingConnection) -> None:
    channel = as_web.channel()
    _confirmed_publish(channel, WEB_DEAD_LETTER_EXCHANGE, NOWHERE)
    channel.close()


def test_worker_cannot_touch_the_webs_queue(as_worker: pika.BlockingConnection) -> None:
    _refused(lambda ch: ch.basic_consume(WEB_RESULTS_QUEUE, lambda *_: None), as_worker)
    _refused(lambda ch: _confirmed_publish(ch, WEB_DEAD_LETTER_EXCHANGE, NOWHERE), as_worker)


def test_worker_may_publish_its_retries_and_dead_letters(
    as_worker: pika.BlockingConnection,
) -> None:
    channel = as_worker.channel()
    _confirmed_publish(channel, DEAD_LETTER_EXCHANGE, NOWHERE)
    _confirmed_publish(channel, "", NOWHERE)  # the default exchange: retries go through it
    channel.close()


def test_worker_cannot_touch_other_queues(as_worker: pika.BlockingConnection) -> None:
    _refused(lambda ch: ch.queue_declare("other-service.inbox", durable=True), as_worker)


def test_there_is_no_default_guest_user(stack: Stack) -> None:
    port = stack.rabbitmq.host_port(5672)
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{port}/%2F"))


def test_the_suite_itself_is_administrator_on_the_courier_vhost(stack: Stack) -> None:
    connection = stack.rabbitmq.connection()
    try:
        channel = connection.channel()
        declared = channel.queue_declare("", exclusive=True)
        assert declared.method.queue
    finally:
        connection.close()
