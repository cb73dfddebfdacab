"""Encoded events into a vhost of the run: probes built, published with or without confirms."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import pika
from pika.spec import Basic
from shared_contracts import ProbeSent, WireMessage, encode, new_envelope

from bench.broker import channel
from bench.events import IoProbeSent


def probes(
    count: int, tag: str, *, event: type[ProbeSent] | type[IoProbeSent] = ProbeSent
) -> list[WireMessage]:
    """``count`` encoded probes: ``diagnostic.probe_sent.v1``, or the bench's I/O-bound one."""
    return [
        encode(
            new_envelope(
                event(sequence=i, note=tag),
                producer="courier-bench",
                correlation_id=f"{tag}-{i}",
            ),
            origin="courier-bench",
        )
        for i in range(count)
    ]


def properties(message: WireMessage) -> pika.BasicProperties:
    """The AMQP properties of ``message``, as every Courier publisher sends them."""
    return pika.BasicProperties(**message.amqp_properties())


def publish_raw(url: str, messages: Sequence[WireMessage]) -> None:
    """Publish ``messages`` without confirms (only to fill a queue fast)."""
    with channel(url) as chan:
        for message in messages:
            chan.basic_publish(
                message.exchange, message.routing_key, message.body, properties(message)
            )


def publish_confirmed(
    url: str,
    messages: Sequence[WireMessage],
    *,
    window: int = 256,
    batched: bool = False,
    timeout: float = 120.0,
) -> None:
    """Publish ``messages`` (``mandatory``) and return once every one is confirmed.

    Asynchronous confirms, at most ``window`` unconfirmed: once this returns,
    every message is in its queue (ready, or handed to a consumer). ``batched``:
    publish ``window`` messages, wait for all their confirms, repeat (the relay's
    strategy); otherwise a sliding window. The publish section's raw pika
    baselines are this function.
    """
    total = len(messages)
    state: dict[str, Any] = {"next": 0, "unconfirmed": set(), "bad": 0, "chan": None}

    def on_channel(chan: Any) -> None:
        state["chan"] = chan
        chan.add_on_return_callback(lambda *_: state.__setitem__("bad", state["bad"] + 1))
        chan.confirm_delivery(on_confirm, callback=lambda _frame: pump())

    def pump() -> None:
        chan = state["chan"]
        if batched and state["unconfirmed"]:
            return
        while state["next"] < total and len(state["unconfirmed"]) < window:
            message = messages[state["next"]]
            chan.basic_publish(
                message.exchange,
                message.routing_key,
                message.body,
                properties(message),
                mandatory=True,
            )
            state["next"] += 1
            state["unconfirmed"].add(state["next"])  # delivery tags start at 1
        if state["next"] == total and not state["unconfirmed"]:
            chan.connection.close()

    def on_confirm(frame: Any) -> None:
        method = frame.method
        if isinstance(method, Basic.Nack):
            state["bad"] += 1
        if method.multiple:
            state["unconfirmed"] = {t for t in state["unconfirmed"] if t > method.delivery_tag}
        else:
            state["unconfirmed"].discard(method.delivery_tag)
        pump()

    connection = pika.SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda conn: conn.channel(on_open_callback=on_channel),
        on_open_error_callback=lambda conn, _err: conn.ioloop.stop(),
        on_close_callback=lambda conn, _reason: conn.ioloop.stop(),
    )
    connection.ioloop.call_later(timeout, connection.ioloop.stop)  # bounded
    connection.ioloop.start()
    if state["next"] != total or state["unconfirmed"] or state["bad"]:
        with contextlib.suppress(Exception):
            connection.close()
        raise RuntimeError(
            f"confirmed publish incomplete: {state['next']}/{total} published, "
            f"{len(state['unconfirmed'])} unconfirmed, {state['bad']} nacked or returned"
        )


__all__ = ["probes", "properties", "publish_confirmed", "publish_raw"]
