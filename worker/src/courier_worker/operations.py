"""Operator actions on the dead-letter queues: list them, move messages back for another try."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from celery import Celery
from kombu.message import Message
from shared_contracts import WireMessage
from shared_contracts.topology import DEAD_LETTER_DETAIL_HEADER, DEAD_LETTER_REASON_HEADER

from courier_worker.deadletter import DEAD_LETTERED_AT_HEADER, SOURCE_QUEUE_HEADER
from courier_worker.retry import BROKER_HEADERS, RETRIES_HEADER
from courier_worker.topology import DEAD_LETTER_QUEUES

#: Headers dropped when a dead letter goes back to its queue (the broker's and ours).
_DEAD_LETTER_HEADERS = BROKER_HEADERS | {
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_DETAIL_HEADER,
    SOURCE_QUEUE_HEADER,
    DEAD_LETTERED_AT_HEADER,
}


def describe(queue: str, message: Message) -> dict[str, Any]:
    headers = message.headers or {}
    return {
        "queue": queue,
        "id": headers.get("id"),
        "task": headers.get("task"),
        "reason": headers.get(DEAD_LETTER_REASON_HEADER) or _broker_reason(headers),
        "detail": headers.get(DEAD_LETTER_DETAIL_HEADER),
        "dead_lettered_at": headers.get(DEAD_LETTERED_AT_HEADER),
        "source": headers.get(SOURCE_QUEUE_HEADER) or headers.get("x-first-death-queue"),
    }


def list_dead_letters(app: Celery, *, limit: int, write: Callable[[str], None] = print) -> int:
    """Print up to ``limit`` dead letters per queue as JSON lines; leaves them in place."""
    count = 0
    with _dead_letters(app) as taken:
        for queue, message in taken(limit):
            write(json.dumps(describe(queue, message), default=str))
            count += 1
    return count


#: How long a requeue by id looks for letters it has not found yet. A letter that
#: a ``list`` (or another requeue) just fetched is back in its queue only once
#: the broker has processed that channel's close: on a quorum queue, a moment later.
REQUEUE_BY_ID_WAIT_S = 10.0


def requeue_dead_letters(
    app: Celery,
    *,
    ids: Sequence[str],
    limit: int,
    write: Callable[[str], None] = print,
    wait: float = REQUEUE_BY_ID_WAIT_S,
) -> int:
    """Move dead letters (those with ``ids``, or all up to ``limit``) back to their queue.

    They go to the queue they came from through the default exchange, so only
    this worker sees them again (never other services bound to the event type),
    with their ``retries`` header reset: a transient failure is retried again.
    Ids not found within ``wait`` are reported as such, one line each.
    """
    wanted = set(ids)
    moved = 0
    deadline = time.monotonic() + wait
    while True:
        moved_now, found = _requeue_pass(app, wanted, limit, write)
        moved += moved_now
        wanted -= found
        if not wanted or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    for missing in sorted(wanted):
        write(json.dumps({"id": missing, "requeued": False, "why": "no dead letter with this id"}))
    return moved


def _requeue_pass(
    app: Celery, wanted: set[str], limit: int, write: Callable[[str], None]
) -> tuple[int, set[str]]:
    """One look at every dead-letter queue: (letters moved, ids among ``wanted`` seen)."""
    moved = 0
    found: set[str] = set()
    with _dead_letters(app) as taken, app.producer_or_acquire() as producer:
        # Take the whole batch first: a message requeued now may be dead-lettered
        # again within this run, and must not be fetched and moved a second time.
        for queue, message in list(taken(limit)):
            info = describe(queue, message)
            if wanted and info["id"] not in wanted:
                continue
            found.add(info["id"])
            source = info["source"]
            if not source:
                write(json.dumps({**info, "requeued": False, "why": "source queue unknown"}))
                continue
            headers: dict[str, Any] = {
                key: value
                for key, value in (message.headers or {}).items()
                if key not in _DEAD_LETTER_HEADERS
            }
            if RETRIES_HEADER in headers:
                headers[RETRIES_HEADER] = 0  # another try gets a full retry budget
            wire = _requeued(message, source, headers)
            producer.publish(
                wire.body,
                exchange=wire.exchange,
                routing_key=wire.routing_key,
                retry=True,
                **wire.amqp_properties(),
            )
            message.ack()  # only after the broker confirmed the copy
            write(json.dumps({**info, "requeued": True}, default=str))
            moved += 1
    return moved, found


#: The properties of a dead letter that its requeued copy keeps.
_KEPT_PROPERTIES = ("correlation_id", "message_id", "priority")


def _requeued(message: Message, source: str, headers: dict[str, Any]) -> WireMessage:
    """The dead letter as it goes back to ``source``, through the default exchange, persistent."""
    properties = {
        key: value
        for key, value in (message.properties or {}).items()
        if key in _KEPT_PROPERTIES and value is not None
    }
    body = message.body if isinstance(message.body, bytes) else (message.body or "").encode()
    return WireMessage.from_amqp(
        exchange="",
        routing_key=source,
        body=body,
        headers=headers,
        properties={
            **properties,
            "content_type": message.content_type,
            "content_encoding": message.content_encoding,
        },
    )


@contextmanager
def _dead_letters(
    app: Celery,
) -> Iterator[Callable[[int], Iterator[tuple[str, Message]]]]:
    """Fetch dead letters unacknowledged; what is not acked returns to its queue on close."""
    with app.connection_for_write() as connection:
        channel = connection.channel()

        def taken(limit: int) -> Iterator[tuple[str, Message]]:
            for queue in DEAD_LETTER_QUEUES:
                bound = queue(channel)
                bound.declare()
                for _ in range(limit):
                    message = bound.get(no_ack=False)
                    if message is None:
                        break
                    yield queue.name, message

        try:
            yield taken
        finally:
            channel.close()  # type: ignore[attr-defined]


def _broker_reason(headers: dict[str, Any]) -> str | None:
    reason = headers.get("x-first-death-reason")
    return f"broker:{reason}" if reason else None
