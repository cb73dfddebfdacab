"""The task adapters, run eagerly with fakes plugged into the composition root."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from celery.app.task import Context
from courier_worker import bootstrap, metrics
from courier_worker.celery_app import app
from courier_worker.handlers import Dependencies
from courier_worker.idempotency import IdempotencyGuard
from courier_worker.queues import BULK, CRITICAL, routing_keys
from courier_worker.retry import RetryPolicy
from courier_worker.settings import get_settings
from courier_worker.tasks import _message_from_request
from shared_contracts import Envelope, ProbeSent, UserRegistered, encode, new_envelope
from shared_contracts.topology import CORRELATION_ID_HEADER
from sqlalchemy.exc import OperationalError

from tests.fakes import (
    FailingMailer,
    FakeDeadLetters,
    FakeHandledEvents,
    FakeMailer,
    FakeRetries,
    SmtpRefusingMailer,
)


class Fakes:
    def __init__(self) -> None:
        self.mailer = FakeMailer()
        self.store = FakeHandledEvents()
        self.dead_letters = FakeDeadLetters()
        self.retries = FakeRetries()
        self.policy = RetryPolicy(
            max_retries=3, base_seconds=4, max_seconds=60, tiers=(1, 5, 30), rng=random.Random(7)
        )

    def container(self, mailer: Any = None, store: Any = None) -> bootstrap.Container:
        store = store or self.store
        return bootstrap.Container(
            settings=get_settings(),
            store=store,
            guard=IdempotencyGuard(store),
            deps=Dependencies(mailer=mailer or self.mailer, mail_from="a@b.invalid"),
            dead_letters=self.dead_letters,
            retries=self.retries,
            retry_policy=self.policy,
        )


@pytest.fixture
def fakes() -> Fakes:
    fakes = Fakes()
    bootstrap.install(fakes.container())
    return fakes


def deliver(
    envelope: Envelope[Any], event: Any = None, task: str | None = None, retries: int = 0
) -> Any:
    name = task or envelope.event_type
    kwargs = {"event": envelope.model_dump(mode="json") if event is None else event}
    result = app.tasks[name].apply(kwargs=kwargs, task_id=str(envelope.event_id), retries=retries)
    return result.get()


def sample(name: str, **labels: str) -> float:
    return metrics.metrics().registry.get_sample_value(name, labels) or 0.0


def test_registration_sends_once(fakes: Fakes, registration: Envelope[UserRegistered]) -> None:
    assert deliver(registration) == "handled"
    assert deliver(registration) == "duplicate"
    assert len(fakes.mailer.sent) == 1
    assert fakes.dead_letters.letters == []


def test_probe_is_only_recorded(fakes: Fakes) -> None:
    probe = new_envelope(ProbeSent(sequence=3), producer="bench", correlation_id="c1")
    assert deliver(probe) == "handled"
    assert fakes.store.is_handled(probe.event_id)
    assert fakes.mailer.sent == []


def test_schema_violation_is_dead_lettered(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    event = registration.model_dump(mode="json")
    event["payload"]["email"] = "nope"
    assert deliver(registration, event=event) == "dead-lettered"
    [letter] = fakes.dead_letters.letters
    assert letter.reason == "schema-violation"
    assert letter.source.name == "courier.worker.critical"
    assert b'"nope"' in letter.body
    assert fakes.mailer.sent == []


def test_event_under_the_wrong_task_name_is_refused(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    assert deliver(registration, task="diagnostic.probe_sent.v1") == "dead-lettered"
    assert [letter.reason for letter in fakes.dead_letters.letters] == ["schema-violation"]


def test_permanent_failure_is_dead_lettered_at_once(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    mailer = SmtpRefusingMailer(550)
    bootstrap.install(fakes.container(mailer=mailer))
    assert deliver(registration) == "dead-lettered"
    [letter] = fakes.dead_letters.letters
    assert letter.reason == "handler-failed"
    assert "SMTPDataError" in letter.detail
    assert "550" in letter.detail
    assert fakes.retries.messages == []
    assert mailer.attempts == 1
    assert not fakes.store.is_handled(registration.event_id)


@pytest.mark.parametrize(
    "mailer",
    [
        SmtpRefusingMailer(451),
        FailingMailer(),  # connection refused
    ],
    ids=["smtp-451", "connection-refused"],
)
def test_transient_failure_is_retried_through_the_own_delay_queue(
    fakes: Fakes, registration: Envelope[UserRegistered], mailer: Any
) -> None:
    bootstrap.install(fakes.container(mailer=mailer))
    before = sample("courier_worker_retries_total", event_type=registration.event_type)
    assert deliver(registration) == "retried"
    [retry] = fakes.retries.messages
    assert retry.source == CRITICAL
    assert retry.delay_seconds in fakes.policy.tiers
    assert retry.headers["retries"] == 1
    assert retry.headers["id"] == str(registration.event_id)
    assert retry.headers["task"] == registration.event_type
    [args, kwargs, _embed] = json.loads(retry.body)
    assert args == []
    assert kwargs == {"event": registration.model_dump(mode="json")}
    assert fakes.dead_letters.letters == []
    assert not fakes.store.is_handled(registration.event_id)
    assert sample("courier_worker_retries_total", event_type=registration.event_type) == before + 1
    assert (
        sample("courier_worker_tasks_total", event_type=registration.event_type, outcome="retried")
        >= 1
    )


def test_a_locked_database_is_transient(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    class LockedStore(FakeHandledEvents):
        @contextmanager
        def claim(self, event_id: uuid.UUID, event_type: str) -> Iterator[bool]:
            # The claim is the guard's first (and only) statement before the effect.
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
            yield True  # pragma: no cover

    bootstrap.install(fakes.container(store=LockedStore()))
    assert deliver(registration) == "retried"
    assert fakes.mailer.sent == []


def test_retries_carry_the_count_on(fakes: Fakes, registration: Envelope[UserRegistered]) -> None:
    bootstrap.install(fakes.container(mailer=SmtpRefusingMailer(421)))
    assert deliver(registration, retries=2) == "retried"
    assert [m.headers["retries"] for m in fakes.retries.messages] == [3]


def test_exhausted_retries_are_dead_lettered_with_the_last_error(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    bootstrap.install(fakes.container(mailer=SmtpRefusingMailer(451)))
    before = sample("courier_worker_dead_letters_total", reason="retries-exhausted")
    assert deliver(registration, retries=3) == "dead-lettered"
    assert fakes.retries.messages == []
    [letter] = fakes.dead_letters.letters
    assert letter.reason == "retries-exhausted"
    assert "after 3 retries" in letter.detail
    assert "SMTPDataError" in letter.detail
    assert "451" in letter.detail
    assert sample("courier_worker_dead_letters_total", reason="retries-exhausted") == before + 1


def test_a_retry_that_cannot_be_published_rejects_the_message(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    # Raising makes Celery reject (no requeue): the broker dead-letters the
    # original instead of it being acked with no retry scheduled.
    fakes.retries.fail = True
    bootstrap.install(fakes.container(mailer=SmtpRefusingMailer(451)))
    with pytest.raises(ConnectionResetError):
        deliver(registration)
    assert fakes.dead_letters.letters == []
    assert not fakes.store.is_handled(registration.event_id)


def test_delivered_after_retries_counts_as_handled(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    mailer = SmtpRefusingMailer(451, times=2)
    bootstrap.install(fakes.container(mailer=mailer))
    assert deliver(registration) == "retried"
    assert deliver(registration, retries=1) == "retried"
    assert deliver(registration, retries=2) == "handled"
    assert deliver(registration, retries=3) == "duplicate"
    assert len(mailer.sent) == 1
    assert [m.headers["retries"] for m in fakes.retries.messages] == [1, 2]


def test_rebuilt_message_keeps_the_correlation_header(
    registration: Envelope[UserRegistered],
) -> None:
    wire = encode(registration)
    fields = {
        **wire.headers,
        "x-death": [{"queue": "courier.worker.critical.delay.1s"}],
        "properties": {"correlation_id": wire.correlation_id, "delivery_mode": 2},
        "delivery_info": {"routing_key": CRITICAL.name, "exchange": ""},
        "callbacks": None,
        "errbacks": None,
        "chain": None,
        "chord": None,
    }

    class FakeTask:
        name = registration.event_type
        request = Context(fields)

    [args, kwargs, embed] = json.loads(wire.body)
    body, headers, properties, source = _message_from_request(FakeTask(), (), kwargs)  # type: ignore[arg-type]
    assert json.loads(body) == [args, kwargs, embed]
    assert headers[CORRELATION_ID_HEADER] == registration.correlation_id
    assert headers["id"] == str(registration.event_id)
    assert properties["correlation_id"] == wire.correlation_id
    assert source == CRITICAL


def test_probe_path_runs_validation_and_the_record_only(fakes: Fakes) -> None:
    probe = new_envelope(ProbeSent(sequence=1), producer="bench", correlation_id="c2")
    assert deliver(probe) == "handled"
    assert deliver(probe) == "duplicate"
    assert fakes.store.recorded == {probe.event_id: ProbeSent.event_type}
    assert fakes.mailer.sent == []
    assert fakes.retries.messages == []
    assert (
        sample("courier_worker_tasks_total", event_type=ProbeSent.event_type, outcome="duplicate")
        >= 1
    )
    assert ProbeSent.event_type in routing_keys(BULK)


def test_tasks_ack_late_and_reject_on_a_lost_worker() -> None:
    for task in (app.tasks[name] for name in ("user.registered.v1", "diagnostic.probe_sent.v1")):
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True
        # A failure (a publish that could not be confirmed) is rejected, not acked away.
        assert getattr(task, "acks_on_failure", False) is False
        assert task.acks_on_failure_or_timeout is False
