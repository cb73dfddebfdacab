"""`courier-worker declare-topology` binds the worker's queues before any worker runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pika
from courier_worker.handlers import declaration_for
from courier_worker.queues import QUEUES
from shared_contracts import UserRegistered, encode, new_envelope


def test_declared_queues_receive_events_with_no_worker_running(amqp_url: str) -> None:
    env = {**os.environ, "RABBITMQ_URL": amqp_url, "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "courier_worker.cli", "declare-topology"]
    for _ in range(2):  # idempotent: a second run changes nothing and does not fail
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr

    wire = encode(
        new_envelope(
            UserRegistered(user_id=1, email="declared@example.com"),
            producer="courier-tests",
            correlation_id="declare-topology",
        )
    )
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        # mandatory: raises UnroutableError if no queue were bound for the key
        channel.basic_publish(
            wire.exchange,
            wire.routing_key,
            wire.body,
            pika.BasicProperties(**wire.amqp_properties()),
            mandatory=True,
        )
        declaration = declaration_for(wire.routing_key)
        assert declaration is not None
        for spec in QUEUES:
            declared = channel.queue_declare(spec.name, passive=True)
            expected = 1 if spec == declaration.queue else 0
            assert declared.method.message_count == expected, spec.name
            channel.queue_purge(spec.name)
    finally:
        connection.close()
