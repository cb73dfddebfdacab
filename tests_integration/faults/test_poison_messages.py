"""Poison messages published straight into ``courier.events``: dead-lettered with a reason.

Each kind sits between good events on the worker's critical queue. The worker
must move it, unchanged, to that queue's dead-letter queue with the
``x-courier-dead-letter-reason`` header, keep consuming, and handle the good
events around it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from courier_worker.queues import CRITICAL

from ..support.accounting import json_lines
from ..support.containers import Worker
from ..support.polling import wait_until
from ..support.stack import Stack
from .helpers import (
    REASON_HEADER,
    publish_raw,
    publish_wire,
    registration_message,
    take_dead_letters,
)


@dataclass(frozen=True)
class Poison:
    event_id: str
    reason: str
    body: bytes
    headers: dict[str, Any]


def _changed(message: Any, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The body of ``message`` with its envelope changed by ``change``."""
    args, kwargs, embed = json.loads(message.body)
    change(kwargs["event"])
    return json.dumps([args, kwargs, embed]).encode()


def _undecodable() -> Poison:
    """Not even UTF-8, let alone JSON (Celery alone would log and ack it: lost)."""
    event_id = str(uuid.uuid4())
    headers = {"lang": "py", "task": "user.registered.v1", "id": event_id, "root_id": event_id}
    return Poison(event_id, "undecodable", b"\xff\xfe{ not json", headers)


def _unknown_type(domain: str) -> Poison:
    """A well-formed event of a type (task) this worker has no handler for."""
    message = registration_message(f"unknown@{domain}")

    def rename(event: dict[str, Any]) -> None:
        event["event_type"] = "user.deleted.v1"

    headers = {**message.headers, "task": "user.deleted.v1"}
    return Poison(message.message_id, "unknown-event-type", _changed(message, rename), headers)


def _schema_violation(domain: str) -> Poison:
    """The payload breaks its contract: ``user_id`` is not an integer."""
    message = registration_message(f"violation@{domain}")

    def corrupt(event: dict[str, Any]) -> None:
        event["payload"]["user_id"] = "not-a-number"

    body = _changed(message, corrupt)
    return Poison(message.message_id, "schema-violation", body, dict(message.headers))


def _future_version(domain: str) -> Poison:
    """A newer revision than the worker knows, without a field the known one requires.

    A newer revision is read tolerantly (docs/deploying.md), as the revision
    the worker knows: so it is a violation of that one.
    """
    message = registration_message(f"future@{domain}")

    def upgrade(event: dict[str, Any]) -> None:
        event["schema_version"] = 99
        del event["payload"]["email"]

    body = _changed(message, upgrade)
    return Poison(message.message_id, "schema-violation", body, dict(message.headers))


def _listed(worker: Worker) -> dict[str, dict[str, Any]]:
    """``courier-worker dead-letters list`` (JSON lines; left in place), by event id."""
    code, output = worker.run("courier-worker", "dead-letters", "list", "--limit", "1000")
    assert code == 0, output
    return {
        str(record["id"]): record
        for record in json_lines(output)
        if "reason" in record and "queue" in record and record.get("id")
    }


def test_each_kind_of_poison_is_dead_lettered_with_its_reason(
    stack: Stack, domain: str, settle: Callable[..., Any], note: Callable[[str], None]
) -> None:
    poison = [_undecodable(), _unknown_type(domain), _schema_violation(domain)]
    poison.append(_future_version(domain))
    good = [registration_message(f"good{n}@{domain}", user_id=n + 1) for n in range(5)]
    (worker,) = stack.workers
    readies = worker.logs().count(" ready.")
    connection = stack.rabbitmq.connection()
    try:
        # good, poison, good, poison, ..., good: each poison message between good ones.
        publish_wire(connection, good[0])
        for bad, after in zip(poison, good[1:], strict=True):
            publish_raw(connection, body=bad.body, headers=bad.headers, message_id=bad.event_id)
            publish_wire(connection, after)
    finally:
        connection.close()

    expected = {bad.event_id: bad.reason for bad in poison}

    # The operator's view: `courier-worker dead-letters list` in the worker container.
    listed = wait_until(
        lambda: (letters := _listed(worker)) and set(expected) <= set(letters) and letters,
        timeout=60,
        what="the four poison messages in `courier-worker dead-letters list`",
    )
    assert {event_id: listed[event_id]["reason"] for event_id in expected} == expected
    # Requeued, a poison message comes straight back with the same reason: no loop, no loss.
    violation = next(bad.event_id for bad in poison if bad.reason == "schema-violation")
    code, output = worker.run("courier-worker", "dead-letters", "requeue", violation)
    assert code == 0, output
    assert any(r.get("id") == violation and r.get("requeued") for r in json_lines(output)), output
    again = wait_until(
        lambda: (
            (letter := _listed(worker).get(violation))
            and letter["dead_lettered_at"] > listed[violation]["dead_lettered_at"]
            and letter
        ),
        timeout=60,
        what="the requeued poison message to be dead-lettered again",
    )
    assert again["reason"] == "schema-violation"

    found: dict[str, dict[str, Any]] = {}

    def all_dead_lettered() -> bool:
        found.update(take_dead_letters(stack, set(expected) - set(found)))
        return set(found) == set(expected)

    wait_until(all_dead_lettered, timeout=60, what="the four poison messages to be dead-lettered")
    assert {event_id: headers.get(REASON_HEADER) for event_id, headers in found.items()} == expected
    for headers in found.values():
        assert headers.get("x-courier-dead-letter-queue") == CRITICAL.name
        detail = str(headers.get("x-courier-dead-letter-detail"))[:120]
        note(f"dead letter {headers.get(REASON_HEADER)}: {detail}")

    settle(
        domain=domain,
        produced=[*(message.message_id for message in good), *expected],
        dead_lettered=expected,
    )
    # It kept consuming: no crash, no restart, no consumer restart.
    assert worker.logs().count(" ready.") == readies, "the worker restarted"
