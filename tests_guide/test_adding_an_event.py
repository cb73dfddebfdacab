"""One new event, declared through the public APIs alone, goes the whole way.

The contract, the emission and the handler are in ``tests_guide/example/``,
written as ``docs/adding-an-event.md`` tells a user to write them; nothing
else names the event. Everything the guide promises is derived is checked
here: the registry, the schema, the emission list, the queue binding, the
Celery task, and one handling of the event delivered through RabbitMQ, even
when it is delivered twice.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import pika
import pika.exceptions
import pytest
from aiosmtpd.controller import Controller
from shared_contracts import EVENT_TYPES, decode, encode, new_envelope, schema_export

from tests_guide.example.contract import DisplayNameChanged

EVENT_TYPE = "guide_user.display_name_changed.v1"
REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something truthy, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_the_contract_registers_itself_and_exports_its_schema() -> None:
    assert EVENT_TYPES[EVENT_TYPE] is DisplayNameChanged
    schema = schema_export.generate()[EVENT_TYPE]
    assert schema["title"] == EVENT_TYPE
    assert set(schema["$defs"]["DisplayNameChanged"]["required"]) == {
        "user_id",
        "email",
        "display_name",
    }
    event = DisplayNameChanged(user_id=1, email="ada@example.com", display_name="Ada")
    wire = encode(new_envelope(event, producer="courier-web", correlation_id="req-1"))
    assert decode(wire.body, wire.headers).payload == event


def test_the_emission_is_declared_and_listed() -> None:
    from courier_web.outbox import emissions

    from tests_guide.example.emission import emission

    assert emission in emissions()
    assert (emission.event_type, emission.signal_name, emission.sender_label) == (
        EVENT_TYPE,
        "post_save",
        "users.User",
    )
    assert emission.in_transaction


def test_the_handler_is_bound_to_its_queue_and_registered_as_a_celery_task() -> None:
    from courier_worker.celery_app import app, apply_declarations
    from courier_worker.handlers import HANDLERS
    from courier_worker.queues import BULK, CRITICAL, routing_keys
    from courier_worker.topology import consuming_queues

    from tests_guide.example.handler import notify_display_name_changed

    apply_declarations(app)

    assert HANDLERS[EVENT_TYPE] is notify_display_name_changed
    assert EVENT_TYPE in routing_keys(BULK)
    assert EVENT_TYPE not in routing_keys(CRITICAL)
    bulk = next(queue for queue in consuming_queues() if queue.name == BULK.name)
    assert EVENT_TYPE in {binding.routing_key for binding in bulk.bindings}
    assert EVENT_TYPE in app.tasks


class _Inbox:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        with socket.socket() as probe:  # a free port on loopback, for this test only
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [message for message in self.messages if message["To"] == address]


@pytest.fixture
def inbox() -> Iterator[_Inbox]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


class _Worker:
    """The worker service as its own process, with the guide's handler declared."""

    def __init__(self, home: Path, amqp_url: str, smtp_port: int) -> None:
        self.log_path = home / "worker.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "RABBITMQ_URL": amqp_url,
            "COURIER_WORKER_HOME": str(home),
            "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "WORKER_METRICS_PORT": "0",
            "WORKER_HEARTBEAT_INTERVAL": "1",
        }
        self.amqp_url = amqp_url
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Worker:
        from courier_worker.queues import QUEUES

        command = [sys.executable, "-m", "tests_guide.run_worker", "--pool=solo"]
        command += ["--without-mingle", "--without-gossip", "--hostname=guide@%h"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_for(
                lambda: all(self._consumers(spec.name) for spec in QUEUES),
                timeout=60,
                what="the worker to consume its queues",
            )
        except AssertionError:
            self.__exit__()
            raise AssertionError(f"worker did not start:\n{self.log()[-3000:]}") from None
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def _consumers(self, queue: str) -> int:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited:\n{self.log()[-3000:]}")
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            return int(
                connection.channel().queue_declare(queue, passive=True).method.consumer_count
            )
        except pika.exceptions.ChannelClosedByBroker:
            return 0  # not declared yet
        finally:
            if connection.is_open:
                connection.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self, event: str, event_id: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == event and record.get("event_id") == event_id:
                found.append(record)
        return found


@pytest.mark.django_db(transaction=True)
def test_a_change_is_emitted_published_and_handled_once(
    amqp_url: str, state_dir: Path, inbox: _Inbox
) -> None:
    from courier_web.outbox.broker import BrokerOptions
    from courier_web.outbox.models import OutboxMessage, OutboxStatus
    from courier_web.outbox.publisher import PikaPublisher
    from courier_web.outbox.publishing import outbox_publish_batch
    from courier_web.users.services import user_create, user_update

    import tests_guide.example.emission  # noqa: F401  (the declaration, as the web loads it)

    user = user_create(email="grace@example.com", password="correct-horse-battery-9")
    user_update(user=user, display_name="Grace Hopper")
    row = OutboxMessage.objects.get(event_type=EVENT_TYPE)

    publisher = PikaPublisher(BrokerOptions(url=amqp_url, connection_name="courier-guide"))
    home = state_dir / "worker"
    home.mkdir()
    try:
        with _Worker(home, amqp_url, inbox.port) as worker:
            report = outbox_publish_batch(publisher=publisher, limit=10)
            # The registration, the guide's event and the audit trail's three
            # (the user's and its profile's creations, the rename).
            assert (report.sent, report.failed, report.error) == (5, 0, None)
            wait_for(
                lambda: (
                    inbox.to("grace@example.com")
                    and any(m["Subject"].startswith("Your display name") for m in inbox.messages)
                ),
                timeout=30,
                what="the guide handler's email",
            )

            # Delivered again (the relay died between the confirm and marking
            # the row sent): the worker's idempotency absorbs it.
            OutboxMessage.objects.filter(pk=row.pk).update(status=OutboxStatus.PENDING)
            assert outbox_publish_batch(publisher=publisher, limit=10).sent == 1
            event_id = str(row.event_id)
            wait_for(
                lambda: worker.lines("event.duplicate", event_id),
                timeout=30,
                what="the second delivery to be recognised",
            )

            assert len(worker.lines("event.handled", event_id)) == 1
            changed = [m for m in inbox.messages if m["Subject"].startswith("Your display name")]
            assert len(changed) == 1
            assert changed[0]["Message-ID"] == f"<{event_id}@courier.invalid>"
            assert "Grace Hopper" in changed[0].get_payload()
    finally:
        publisher.close()
