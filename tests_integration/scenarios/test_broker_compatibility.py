"""What RabbitMQ 4 changed, on the broker the suite runs (4.x by default, 3.x in CI's lane).

On RabbitMQ 4 the suite's broker refuses what 4.3 removes
(``infra/rabbitmq/courier-4.conf``): transient non-exclusive queues are
refused outright, and a global QoS is logged as a deprecated feature's use.
Every client the stack runs (web, relay, worker, and the operator's
``celery inspect`` and ``courier-worker dead-letters``) must get by without
either. And quorum queues on 4.0-4.2 drop a message after 20 returns unless
told otherwise; the dead-letter queues, which operators read by taking
letters and giving them back, must not lose theirs that way.
"""

from __future__ import annotations

import json
import uuid

import pika
from courier_worker.queues import CRITICAL, QUEUES
from shared_contracts import EVENTS_EXCHANGE, UserRegistered

from ..faults.helpers import take_dead_letters
from ..support.containers import RABBITMQ_VHOST
from ..support.polling import wait_until
from ..support.stack import Stack

#: More looks at a letter than RabbitMQ 4.0-4.2's default delivery limit (20) allows.
LOOKS = 25
#: The deprecated features RabbitMQ 4.3 no longer permits that a client could use.
REMOVED_IN_4_3 = ("transient_nonexcl_queues", "global_qos")


def _worker_command(stack: Stack, *command: str) -> str:
    code, output = stack.workers[0].run(*command)
    assert code == 0, f"{' '.join(command)} failed: {output}"
    return output


def _dead_letter_ids(stack: Stack) -> list[str]:
    output = _worker_command(stack, "courier-worker", "dead-letters", "list", "--limit", "1000")
    return [str(json.loads(line)["id"]) for line in output.splitlines() if line.startswith("{")]


def test_no_client_uses_what_rabbitmq_4_3_removes(stack: Stack) -> None:
    # Remote control (an exclusive reply queue) and the dead-letter tools, besides
    # what the web, the relay and the worker have done since the stack started.
    host = f"worker@{stack.workers[0].run('hostname')[1].strip()}"
    pong = _worker_command(
        stack, "celery", "-A", "courier_worker.celery_app:app", "inspect", "ping", "-d", host
    )
    assert "pong" in pong
    _dead_letter_ids(stack)

    # A refused or merely logged use names the feature (the management plugin's
    # own deprecated metrics collection is logged at boot and is not a client's).
    used = [
        line
        for line in stack.rabbitmq.logs().splitlines()
        if any(f"`{feature}`" in line for feature in REMOVED_IN_4_3)
    ]
    assert not used, used[:5]
    columns = ("name", "type", "durable", "exclusive")
    listed = stack.rabbitmq.rabbitmqctl(
        "-q", "list_queues", "-p", RABBITMQ_VHOST, *columns, "--formatter", "json"
    )
    queues = json.loads(listed)
    transient = [q["name"] for q in queues if not q["durable"] and not q["exclusive"]]
    assert not transient, f"transient non-exclusive queues: {transient}"
    types = {q["name"]: q["type"] for q in queues}
    for spec in QUEUES:
        assert types[spec.name] == "quorum", types
        assert types[spec.dead_letter_queue] == "quorum", types


def test_dead_letters_outlive_more_looks_than_the_delivery_limit(stack: Stack) -> None:
    event_id = str(uuid.uuid4())
    connection = stack.rabbitmq.connection()
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            EVENTS_EXCHANGE,
            UserRegistered.event_type,
            b"\xff not json",
            pika.BasicProperties(
                headers={"id": event_id, "task": UserRegistered.event_type},
                content_type="application/json",
                message_id=event_id,
                delivery_mode=2,
            ),
            mandatory=True,
        )
    finally:
        connection.close()
    wait_until(
        lambda: event_id in _dead_letter_ids(stack), timeout=60, what="the poison's dead letter"
    )

    # What `dead-letters list` does to each letter: take it unacknowledged, give it back.
    connection = stack.rabbitmq.connection()
    try:
        for _ in range(LOOKS):
            channel = connection.channel()
            method, _properties, _body = channel.basic_get(CRITICAL.dead_letter_queue)
            assert method is not None, "the dead-letter queue lost its letters"
            channel.close()
    finally:
        connection.close()

    assert event_id in _dead_letter_ids(stack)
    assert take_dead_letters(stack, {event_id}).keys() == {event_id}
    policies = json.loads(
        stack.rabbitmq.rabbitmqctl(
            "-q", "list_queues", "-p", RABBITMQ_VHOST, "name", "policy", "--formatter", "json"
        )
    )
    applied = {q["name"]: q["policy"] for q in policies}
    assert applied[CRITICAL.dead_letter_queue] == "courier-keep-dead-letters", applied
