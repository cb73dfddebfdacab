"""PikaPublisher.publish_many's bookkeeping: delivery tags, multiple acks, returns, timeouts.

The broker is scripted (frames fed to the publisher's confirm and return
callbacks in the order RabbitMQ sends them); the component tests run the same
path against the real broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pika.spec
from shared_contracts import ProbeSent, WireMessage, encode, new_envelope

from courier_web.outbox.broker import BrokerOptions
from courier_web.outbox.publisher import CONFIRMED, Outcome, PikaPublisher

Script = Callable[[PikaPublisher, list[WireMessage]], None]


def messages(n: int) -> list[WireMessage]:
    return [
        encode(new_envelope(ProbeSent(sequence=i), producer="test", correlation_id=f"c-{i}"))
        for i in range(n)
    ]


def ack(tag: int, *, multiple: bool = False) -> Any:
    return SimpleNamespace(method=pika.spec.Basic.Ack(delivery_tag=tag, multiple=multiple))


def nack(tag: int) -> Any:
    return SimpleNamespace(method=pika.spec.Basic.Nack(delivery_tag=tag))


def returned(publisher: PikaPublisher, message: WireMessage) -> None:
    method = pika.spec.Basic.Return(reply_code=312, reply_text="NO_ROUTE")
    props = pika.BasicProperties(message_id=message.message_id)
    publisher._on_return(None, method, props, b"")


class ScriptedConnection:
    """Delivers the scripted frames on the first wait, then stays silent."""

    def __init__(self, publisher: PikaPublisher, script: Script) -> None:
        self.publisher, self.script = publisher, script
        self.sent: list[str] = []
        self.is_open = True
        self.wakes = 0
        # publish_many queues frames on the channel pika's BlockingChannel wraps.
        self._impl = self

    def basic_publish(self, *, properties: Any, mandatory: bool, **_: Any) -> None:
        assert mandatory
        self.sent.append(properties.message_id)

    def process_data_events(self, time_limit: float) -> None:
        if self.script is not None:
            script, self.script = self.script, None  # type: ignore[assignment]
            script(self.publisher, self.batch)
        else:
            time.sleep(min(time_limit, 0.01))

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        self.wakes += 1

    def close(self) -> None:
        self.is_open = False


def publish(script: Script, batch: list[WireMessage], timeout: float = 1.0) -> Any:
    publisher = PikaPublisher(BrokerOptions(url="amqp://unused", confirm_timeout=timeout))
    fake = ScriptedConnection(publisher, script)
    fake.batch = batch  # type: ignore[attr-defined]

    def ensure_channel() -> Any:
        publisher._connection = fake  # type: ignore[assignment]
        return fake

    publisher._ensure_channel = ensure_channel  # type: ignore[method-assign]
    return publisher, fake, publisher.publish_many(batch)


def test_a_multiple_ack_confirms_every_tag_up_to_it_and_a_return_before_an_ack_fails() -> None:
    batch = messages(4)

    def script(publisher: PikaPublisher, batch: list[WireMessage]) -> None:
        returned(publisher, batch[1])  # the return comes before its ack
        publisher._on_confirm(ack(3, multiple=True))
        publisher._on_confirm(nack(4))

    _, fake, results = publish(script, batch)

    assert fake.sent == [m.message_id for m in batch]
    assert results[0] == CONFIRMED
    assert results[2] == CONFIRMED
    assert results[1].outcome is Outcome.RETURNED
    assert "312 NO_ROUTE" in results[1].detail
    assert repr(batch[1].routing_key) in results[1].detail
    assert (results[3].outcome, results[3].detail) == (
        Outcome.FAILED,
        "the broker nacked the message",
    )
    assert fake.is_open
    assert fake.wakes == 1  # the wait ended as soon as the last tag was settled


def test_single_acks_in_any_order() -> None:
    def script(publisher: PikaPublisher, batch: list[WireMessage]) -> None:
        for tag in (2, 3, 1):
            publisher._on_confirm(ack(tag))

    _, _, results = publish(script, messages(3))

    assert results == [CONFIRMED] * 3


def test_what_is_unconfirmed_at_the_timeout_fails_and_late_confirms_match_nothing_later() -> None:
    def script(publisher: PikaPublisher, batch: list[WireMessage]) -> None:
        publisher._on_confirm(ack(1))

    started = time.monotonic()
    publisher, fake, results = publish(script, messages(3), timeout=0.1)

    assert time.monotonic() - started < 1.0
    assert results[0] == CONFIRMED
    assert [r.outcome for r in results[1:]] == [Outcome.FAILED, Outcome.FAILED]
    assert "no confirm from the broker within 0.1s" in results[1].detail
    assert fake.is_open  # closing would wait for a blocked broker

    # The next batch (tags 4, 5) on the same channel: the late acks of tags 2
    # and 3 confirm nothing of it; a multiple ack up to 4 confirms only tag 4.
    def late(publisher: PikaPublisher, batch: list[WireMessage]) -> None:
        publisher._on_confirm(ack(2))
        publisher._on_confirm(ack(3))
        publisher._on_confirm(ack(4, multiple=True))

    fake.script = late
    again = publisher.publish_many(messages(2))
    assert again[0] == CONFIRMED
    assert again[1].outcome is Outcome.FAILED


def test_an_empty_batch_publishes_nothing() -> None:
    publisher = PikaPublisher(BrokerOptions(url="amqp://unused"))
    assert publisher.publish_many([]) == []
