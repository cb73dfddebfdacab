"""What the fault tests do to the stack: raw publishes, a tap queue, the web shell, the pool."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pika
from courier_worker.queues import CRITICAL
from shared_contracts import (
    DEAD_LETTER_REASON_HEADER,
    EVENTS_EXCHANGE,
    UserRegistered,
    WireMessage,
    encode,
    new_envelope,
)

from ..support.containers import Relay, ServiceContainer, Worker
from ..support.polling import wait_until
from ..support.stack import Stack

EXCHANGE = EVENTS_EXCHANGE
ROUTING_KEY = UserRegistered.event_type
CRITICAL_DEAD_LETTERS = CRITICAL.dead_letter_queue
REASON_HEADER = DEAD_LETTER_REASON_HEADER
#: The worker's default prefetch multiplier (WORKER_PREFETCH): messages reserved per pool process.
DEFAULT_PREFETCH = 4


def in_flight_limit(stack: Stack) -> int:
    """prefetch x concurrency: how many messages one worker holds unacknowledged at most."""
    env = stack.worker_env()
    return int(env.get("WORKER_PREFETCH", DEFAULT_PREFETCH)) * int(env["WORKER_CONCURRENCY"])


def registration_message(
    email: str, *, user_id: int = 1, correlation_id: str = "faults"
) -> WireMessage:
    """A well-formed ``user.registered.v1`` wire message (``shared_contracts.encode``)."""
    envelope = new_envelope(
        UserRegistered(user_id=user_id, email=email),
        producer="courier-tests",
        correlation_id=correlation_id,
        event_id=uuid.uuid4(),
    )
    return encode(envelope)


def publish_raw(
    connection: pika.BlockingConnection,
    *,
    body: bytes,
    headers: Mapping[str, Any],
    routing_key: str = ROUTING_KEY,
    content_type: str = "application/json",
    content_encoding: str = "utf-8",
    message_id: str | None = None,
) -> None:
    """Publish one message into ``courier.events`` with confirms and ``mandatory``."""
    publish_wire(
        connection,
        WireMessage(
            exchange=EXCHANGE,
            routing_key=routing_key,
            body=body,
            headers=headers,
            content_type=content_type,
            content_encoding=content_encoding,
            correlation_id=message_id or "",
            message_id=message_id or "",
        ),
    )


def publish_wire(connection: pika.BlockingConnection, message: WireMessage) -> None:
    """Publish a wire message exactly as the web's relay would (confirms, ``mandatory``)."""
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish(
        exchange=message.exchange,
        routing_key=message.routing_key,
        body=message.body,
        properties=pika.BasicProperties(**message.amqp_properties()),
        mandatory=True,
    )
    channel.close()


class Tap:
    """A second consumer's queue, bound to ``user.registered.v1``: counts what the exchange routes.

    Declared by the test (as the broker's administrator), read with
    ``basic_get`` and deleted afterwards. Each call opens its own short
    connection, so no idle connection can time out during a long wait.
    """

    def __init__(self, stack: Stack, *, routing_key: str = ROUTING_KEY) -> None:
        self.stack = stack
        self.name = f"courier.tests.tap.{uuid.uuid4().hex[:10]}"
        self.seen: Counter[str] = Counter()
        with self._channel() as channel:
            channel.queue_declare(self.name, durable=True, arguments={"x-queue-type": "classic"})
            channel.queue_bind(self.name, EXCHANGE, routing_key=routing_key)

    def _channel(self) -> Any:
        connection = self.stack.rabbitmq.connection()
        return _ClosingChannel(connection)

    def drain(self) -> Counter[str]:
        """Take every message now in the queue; returns all counted so far, by event id."""
        with self._channel() as channel:
            while True:
                method, properties, _body = channel.basic_get(self.name, auto_ack=True)
                if method is None:
                    break
                event_id = (properties.headers or {}).get("id") or properties.message_id
                self.seen[str(event_id)] += 1
        return self.seen

    def delete(self) -> None:
        with self._channel() as channel:
            channel.queue_delete(self.name)


class _ClosingChannel:
    def __init__(self, connection: pika.BlockingConnection) -> None:
        self.connection = connection

    def __enter__(self) -> Any:
        return self.connection.channel()

    def __exit__(self, *exc: object) -> None:
        self.connection.close()


def take_dead_letters(stack: Stack, event_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Remove the dead letters of ``event_ids`` from the critical dead-letter queue.

    Returns their headers by event id; every other dead letter goes back to
    the queue untouched.
    """
    found: dict[str, dict[str, Any]] = {}
    connection = stack.rabbitmq.connection()
    try:
        channel = connection.channel()
        others = []
        while True:
            method, properties, _body = channel.basic_get(CRITICAL_DEAD_LETTERS, auto_ack=False)
            if method is None:
                break
            headers = dict(properties.headers or {})
            event_id = str(headers.get("id") or properties.message_id)
            if event_id in event_ids:
                found[event_id] = headers
                channel.basic_ack(method.delivery_tag)
            else:
                others.append(method.delivery_tag)
        for tag in others:
            channel.basic_nack(tag, requeue=True)
    finally:
        connection.close()
    return found


def sink_control(stack: Stack) -> dict[str, int]:
    """The SMTP sink's fault counters: ``refuse_next``, ``refused``, ``received``."""
    control: dict[str, int] = stack.smtp._api("GET", "/control")
    return control


def web_shell(stack: Stack, code: str, **env: str) -> Any:
    """Run ``code`` in ``courier-web shell`` inside the web container; its last stdout line is JSON.

    ``env`` adds to the container's environment for this process only
    (e.g. ``OUTBOX_DISPATCH=off`` to leave every row to a relay).
    """
    assert stack.web is not None
    result = stack.web.get_wrapped_container().exec_run(
        ["courier-web", "shell", "-c", code], environment=env, demux=True
    )
    out = (result.output[0] or b"").decode(errors="replace")
    err = (result.output[1] or b"").decode(errors="replace")
    assert result.exit_code == 0, f"courier-web shell failed ({result.exit_code}): {err[-2000:]}"
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line from courier-web shell: {out[-1000:]} {err[-1000:]}"
    return json.loads(lines[-1])


def create_pending_registrations(stack: Stack, domain: str, count: int) -> None:
    """Register ``count`` users at ``domain`` in the web container with no dispatcher.

    The real ``user_create`` writes each outbox row; ``OUTBOX_DISPATCH=off``
    keeps this process from publishing them, so they stay ``pending`` for a relay.
    """
    code = (
        "import json\n"
        "from django.db import transaction\n"
        "from courier_web.users.services import user_create\n"
        "with transaction.atomic():\n"
        f"    for n in range({count}):\n"
        f"        user_create(email=f'pending{{n}}@{domain}', password='correct-horse-9')\n"
        f"print(json.dumps({{'created': {count}}}))\n"
    )
    assert web_shell(stack, code, OUTBOX_DISPATCH="off") == {"created": count}


def outbox_status(stack: Stack) -> dict[str, Any]:
    """``courier-web outbox status --json`` in the web container (the operator's view)."""
    assert stack.web is not None
    code, output = stack.web.run("courier-web", "outbox", "status", "--json")
    assert code == 0, output
    lines = [line for line in output.splitlines() if line.startswith("{")]
    status: dict[str, Any] = json.loads(lines[-1])
    return status


def container_status(container: ServiceContainer) -> str:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return str(wrapped.status)


def ensure_running(container: ServiceContainer) -> None:
    """Start ``container`` again if it is not running (and wait until it answers)."""
    if container_status(container) == "paused":
        container.get_wrapped_container().unpause()
    elif container_status(container) != "running":
        container.docker_start()


def start_worker_again(worker: Worker) -> None:
    """``docker start`` a stopped or killed worker and wait for its next ``ready.`` line."""
    readies = worker.logs().count(" ready.")
    worker.get_wrapped_container().start()
    wait_until(
        lambda: worker.logs().count(" ready.") > readies,
        timeout=120,
        what=f"worker {worker.alias} to report ready again",
        interval=0.5,
    )


def start_relay_again(relay: Relay) -> None:
    """``docker start`` a stopped relay and wait until its loop runs (``outbox.relay_started``).

    Until then the container's PID 1 is the start script, which ignores
    SIGTERM: a relay stopped that early would take ``docker stop``'s whole timeout.
    """
    started = relay.logs().count('"outbox.relay_started"')
    relay.get_wrapped_container().start()
    wait_until(
        lambda: relay.logs().count('"outbox.relay_started"') > started,
        timeout=120,
        what="the relay to start its loop again",
        interval=0.5,
    )


def active_tasks(worker: Worker) -> list[dict[str, Any]]:
    """``celery inspect active`` in the worker container: what each pool process runs now."""
    code, output = worker.run(
        "celery", "-A", "courier_worker.celery_app:app", "inspect", "active", "--json"
    )
    assert code == 0, output
    replies = json.loads(output.strip().splitlines()[-1])
    return [task for tasks in replies.values() for task in tasks]


def extra_relay(stack: Stack, **env: str) -> Relay:
    """Another relay container from the web image, with the stack's web env plus ``env``."""
    return Relay(stack.images.web, stack.network, {**stack.web_env(), **env})
