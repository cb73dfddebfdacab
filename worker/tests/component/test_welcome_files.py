"""A registration published as the web service publishes it ends as one .eml file."""

from __future__ import annotations

import json
import uuid
from email import message_from_bytes, policy
from typing import Any

import pytest
from courier_worker.queues import CRITICAL
from shared_contracts import UserRegistered, encode, new_envelope
from shared_contracts.topology import DEAD_LETTER_DETAIL_HEADER, DEAD_LETTER_REASON_HEADER

from tests.component.helpers import Broker, Worker, wait_for

pytestmark = [pytest.mark.component, pytest.mark.timeout(120)]


def registration(email: str | None = None) -> Any:
    unique = uuid.uuid4().hex[:10]
    return new_envelope(
        UserRegistered(user_id=1, email=email or f"u{unique}@example.com", display_name="Ada"),
        producer="web",
        correlation_id=f"req-{unique}",
    )


def eml_for(worker: Worker, event_id: uuid.UUID) -> Any:
    path = worker.mail_dir / f"{event_id}.eml"
    return path if path.exists() else None


def test_registration_writes_one_eml(file_worker: Worker, broker: Broker) -> None:
    envelope = registration()
    broker.publish(encode(envelope))
    path = wait_for(lambda: eml_for(file_worker, envelope.event_id), what="the .eml file")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == envelope.payload.email
    assert "Welcome" in message["Subject"]
    assert message["Message-ID"] == f"<{envelope.event_id}@courier.invalid>"
    assert message["X-Correlation-ID"] == envelope.correlation_id


def test_same_event_twice_sends_once(file_worker: Worker, broker: Broker) -> None:
    envelope = registration()
    wire = encode(envelope)
    broker.publish(wire)
    broker.publish(wire)

    def handled_then_duplicate() -> bool:
        return (
            len(file_worker.events("event.handled", envelope.event_id)) == 1
            and len(file_worker.events("event.duplicate", envelope.event_id)) == 1
        )

    wait_for(handled_then_duplicate, what="both deliveries to be processed")
    for line in file_worker.events("event.duplicate", envelope.event_id):
        assert line["correlation_id"] == envelope.correlation_id
        assert line["event_type"] == envelope.event_type
    assert [p.name for p in file_worker.emails() if p.stem == str(envelope.event_id)] == [
        f"{envelope.event_id}.eml"
    ]


def test_a_newer_revision_is_emailed_once(file_worker: Worker, broker: Broker) -> None:
    """A revision this worker does not know yet (a web deployed first): read, not refused."""
    envelope = registration()
    wire = encode(envelope)
    body = json.loads(wire.body)
    body[1]["event"]["schema_version"] = UserRegistered.schema_version + 1
    body[1]["event"]["payload"]["added_later"] = "a field of the newer revision"
    broker.publish(wire, body=json.dumps(body).encode())

    path = wait_for(lambda: eml_for(file_worker, envelope.event_id), what="the .eml file")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == envelope.payload.email
    wait_for(
        lambda: len(file_worker.events("event.handled", envelope.event_id)) == 1,
        what="the event.handled line",
    )


def _bad_json(wire: Any) -> dict[str, Any]:
    return {"body": b'{"not": json'}


def _unknown_task(wire: Any) -> dict[str, Any]:
    return {"headers": {**wire.headers, "task": "order.placed.v1"}}


def _schema_violation(wire: Any) -> dict[str, Any]:
    body = json.loads(wire.body)
    body[1]["event"]["payload"]["email"] = "not-an-email"
    return {"body": json.dumps(body).encode()}


def _newer_revision_without_email(wire: Any) -> dict[str, Any]:
    # A newer revision is read tolerantly, but still needs what the known one requires.
    body = json.loads(wire.body)
    body[1]["event"]["schema_version"] = UserRegistered.schema_version + 1
    del body[1]["event"]["payload"]["email"]
    return {"body": json.dumps(body).encode()}


def _not_a_triple(wire: Any) -> dict[str, Any]:
    return {"body": b'"abc"'}


@pytest.mark.parametrize(
    ("poison", "reason"),
    [
        (_bad_json, "undecodable"),
        (_unknown_task, "unknown-event-type"),
        (_schema_violation, "schema-violation"),
        (_newer_revision_without_email, "schema-violation"),
        (_not_a_triple, "undecodable"),
    ],
)
def test_poison_is_dead_lettered_and_consumption_goes_on(
    file_worker: Worker, broker: Broker, poison: Any, reason: str
) -> None:
    bad, good = registration(), registration()
    bad_wire = encode(bad)
    broker.publish(bad_wire, **poison(bad_wire))
    broker.publish(encode(good))

    headers, body = wait_for(
        lambda: broker.dead_letter(CRITICAL.dead_letter_queue, str(bad.event_id)),
        what=f"a {reason} dead letter",
    )
    assert headers[DEAD_LETTER_REASON_HEADER] == reason
    assert headers[DEAD_LETTER_DETAIL_HEADER]
    assert headers["x-courier-dead-letter-queue"] == CRITICAL.name
    if reason in {"undecodable", "unknown-event-type"}:  # refused in the consumer: byte-exact
        assert body == poison(bad_wire).get("body", bad_wire.body)
    wait_for(lambda: eml_for(file_worker, good.event_id), what="the good message's .eml")
    assert eml_for(file_worker, bad.event_id) is None


def test_worker_keeps_its_heartbeat_fresh(file_worker: Worker) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "courier_worker.cli", "healthcheck", "--max-age", "10"],
        env=file_worker.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_operator_lists_and_requeues_dead_letters(file_worker: Worker, broker: Broker) -> None:
    import subprocess
    import sys

    bad = registration()
    wire = encode(bad)
    broker.publish(wire, headers={**wire.headers, "task": "order.placed.v1"})
    wait_for(
        lambda: (
            file_worker.log_lines()
            and any(
                line.get("event_id") == str(bad.event_id)
                and line.get("event") == "event.dead_lettered"
                for line in file_worker.log_lines()
            )
        ),
        what="the worker to dead-letter the message",
    )

    def cli(*args: str) -> list[dict[str, Any]]:
        result = subprocess.run(
            [sys.executable, "-m", "courier_worker.cli", "dead-letters", *args],
            env=file_worker.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return [json.loads(line) for line in result.stdout.splitlines()]

    listed = wait_for(
        lambda: [row for row in cli("list") if row["id"] == str(bad.event_id)],
        what="the dead letter in the list",
    )
    assert listed[0]["reason"] == "unknown-event-type"
    assert listed[0]["source"] == CRITICAL.name
    assert listed == [row for row in cli("list") if row["id"] == str(bad.event_id)]  # kept

    # At once after a list, whose fetched letters return to the queue only
    # once the broker has processed its channel's close.
    [moved] = cli("requeue", str(bad.event_id))
    assert moved["requeued"] is True
    unknown = str(uuid.uuid4())
    assert cli("requeue", unknown) == [
        {"id": unknown, "requeued": False, "why": "no dead letter with this id"}
    ]
    # Back on its queue, the worker refuses it again: a second dead-lettering is logged.
    wait_for(
        lambda: (
            sum(
                1
                for line in file_worker.log_lines()
                if line.get("event_id") == str(bad.event_id)
                and line.get("event") == "event.dead_lettered"
            )
            == 2
        ),
        what="the requeued message to reach the worker again",
    )
