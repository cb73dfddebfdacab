"""The task adapters, run eagerly with fakes plugged into the composition root."""

from __future__ import annotations

from typing import Any

import pytest
from courier_worker import bootstrap
from courier_worker.celery_app import app
from courier_worker.handlers import Dependencies
from courier_worker.idempotency import IdempotencyGuard
from courier_worker.settings import get_settings

from shared_contracts import Envelope, ProbeSent, UserRegistered, new_envelope
from tests.fakes import FailingMailer, FakeDeadLetters, FakeHandledEvents, FakeMailer


class Fakes:
    def __init__(self) -> None:
        self.mailer = FakeMailer()
        self.store = FakeHandledEvents()
        self.dead_letters = FakeDeadLetters()

    def container(self, mailer: Any = None) -> bootstrap.Container:
        return bootstrap.Container(
            settings=get_settings(),
            store=self.store,
            guard=IdempotencyGuard(self.store),
            deps=Dependencies(mailer=mailer or self.mailer, mail_from="a@b.invalid"),
            dead_letters=self.dead_letters,
        )


@pytest.fixture
def fakes() -> Fakes:
    fakes = Fakes()
    bootstrap.install(fakes.container())
    return fakes


def deliver(envelope: Envelope[Any], event: Any = None, task: str | None = None) -> Any:
    name = task or envelope.event_type
    kwargs = {"event": envelope.model_dump(mode="json") if event is None else event}
    return app.tasks[name].apply(kwargs=kwargs, task_id=str(envelope.event_id)).get()


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


def test_handler_failure_is_dead_lettered_not_recorded(
    fakes: Fakes, registration: Envelope[UserRegistered]
) -> None:
    bootstrap.install(fakes.container(mailer=FailingMailer()))
    assert deliver(registration) == "dead-lettered"
    assert [letter.reason for letter in fakes.dead_letters.letters] == ["handler-failed"]
    assert not fakes.store.is_handled(registration.event_id)
