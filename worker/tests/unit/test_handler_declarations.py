"""``@handles``: a handler declared where it is written, and all that is derived from it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from courier_worker import bootstrap
from courier_worker.celery_app import app, apply_declarations
from courier_worker.handlers import (
    HANDLERS,
    Dependencies,
    HandlerDeclarationError,
    declaration_for,
    declarations,
    declare,
    handles,
)
from courier_worker.handlers.diagnostics import record_probe
from courier_worker.handlers.users import send_welcome_email
from courier_worker.idempotency import IdempotencyGuard
from courier_worker.queues import BULK, CRITICAL, QueueSpec, routing_keys
from courier_worker.retry import RetryPolicy
from courier_worker.settings import get_settings
from courier_worker.topology import consuming_queues, spec_for
from shared_contracts import Envelope, Event, ProbeSent, UserRegistered, new_envelope

from tests.fakes import FakeDeadLetters, FakeHandledEvents, FakeMailer, FakeRetries


class WidgetPainted(Event):
    """A test-only contract: declared here, handled by a handler declared here."""

    event_type: ClassVar[str] = "test.widget_painted.v1"
    widget_id: int


class PaintRanOut(Exception):
    """What the test handler raises: transient only because its declaration says so."""


class Painter:
    def __init__(self) -> None:
        self.painted: list[int] = []
        self.failure: Exception | None = None

    def __call__(self, envelope: Envelope[WidgetPainted], deps: Dependencies) -> None:
        if self.failure is not None:
            raise self.failure
        self.painted.append(envelope.payload.widget_id)


@pytest.fixture
def painter() -> Iterator[Painter]:
    """A handler of ``WidgetPainted`` on the bulk queue, withdrawn after the test."""
    painter = Painter()
    declaration = declare(WidgetPainted, painter, queue=BULK, transient=(PaintRanOut,))
    yield painter
    declaration.undeclare()
    apply_declarations(app)


@pytest.fixture
def fakes() -> dict[str, Any]:
    store, dead_letters, retries = FakeHandledEvents(), FakeDeadLetters(), FakeRetries()
    bootstrap.install(
        bootstrap.Container(
            settings=get_settings(),
            store=store,
            guard=IdempotencyGuard(store),
            deps=Dependencies(mailer=FakeMailer(), mail_from="a@b.invalid"),
            dead_letters=dead_letters,
            retries=retries,
            retry_policy=RetryPolicy(max_retries=3, tiers=(1,)),
        )
    )
    return {"store": store, "dead_letters": dead_letters, "retries": retries}


def _deliver(envelope: Envelope[Any]) -> Any:
    task = app.tasks[envelope.event_type]
    kwargs = {"event": envelope.model_dump(mode="json")}
    return task.apply(kwargs=kwargs, task_id=str(envelope.event_id)).get()


def _widget(widget_id: int = 1) -> Envelope[WidgetPainted]:
    return new_envelope(WidgetPainted(widget_id=widget_id), producer="test", correlation_id="c")


def test_the_shipped_handlers_are_declared_on_their_queues() -> None:
    welcome = declaration_for(UserRegistered.event_type)
    probe = declaration_for(ProbeSent.event_type)
    assert welcome is not None
    assert (welcome.handler, welcome.queue, welcome.transient) == (send_welcome_email, CRITICAL, ())
    assert welcome.name == "courier_worker.handlers.users.send_welcome_email"
    assert probe is not None
    assert (probe.handler, probe.queue) == (record_probe, BULK)
    assert dict(HANDLERS) == {d.event_type: d.handler for d in declarations()}
    assert UserRegistered.event_type in routing_keys(CRITICAL)
    assert ProbeSent.event_type in routing_keys(BULK)
    assert not set(routing_keys(CRITICAL)) & set(routing_keys(BULK))


def test_the_decorator_returns_the_function_unchanged() -> None:
    def paint(envelope: Envelope[WidgetPainted], deps: Dependencies) -> None:
        pass

    try:
        assert handles(WidgetPainted, queue=BULK)(paint) is paint
        assert HANDLERS[WidgetPainted.event_type] is paint
    finally:
        declaration = declaration_for(WidgetPainted.event_type)
        assert declaration is not None
        declaration.undeclare()
    assert WidgetPainted.event_type not in HANDLERS
    assert WidgetPainted.event_type not in routing_keys(BULK)


def test_one_handler_per_event_type() -> None:
    def another_welcome(envelope: Envelope[UserRegistered], deps: Dependencies) -> None:
        pass

    with pytest.raises(HandlerDeclarationError, match=r"already handled by .*send_welcome_email"):
        handles(UserRegistered, queue=CRITICAL)(another_welcome)
    assert HANDLERS[UserRegistered.event_type] is send_welcome_email


def test_the_same_function_declared_again_replaces_itself() -> None:
    declare(UserRegistered, send_welcome_email, queue=CRITICAL)
    assert HANDLERS[UserRegistered.event_type] is send_welcome_email
    assert len(declarations()) == len(HANDLERS)


def test_only_registered_contracts_and_own_queues_can_be_handled(painter: Painter) -> None:
    with pytest.raises(HandlerDeclarationError, match="not a registered contract"):
        declare(Event, painter, queue=BULK)
    with pytest.raises(HandlerDeclarationError, match="not one of the worker's queues"):
        declare(WidgetPainted, painter, queue=QueueSpec("courier.worker.elsewhere"))
    with pytest.raises(HandlerDeclarationError, match="exception classes"):
        declare(WidgetPainted, painter, queue=BULK, transient=(ValueError("x"),))  # type: ignore[arg-type]
    assert {ProbeSent.event_type, WidgetPainted.event_type} <= set(routing_keys(BULK))


def test_a_declared_handler_is_bound_and_gets_a_task(painter: Painter, fakes: Any) -> None:
    apply_declarations(app)
    assert spec_for(WidgetPainted.event_type) == BULK
    [bulk] = [queue for queue in consuming_queues() if queue.name == BULK.name]
    assert {b.routing_key for b in bulk.bindings} == set(routing_keys(BULK))
    assert {ProbeSent.event_type, WidgetPainted.event_type} <= set(routing_keys(BULK))
    consumed = app.amqp.queues.consume_from[BULK.name]
    assert {b.routing_key for b in consumed.bindings} == {b.routing_key for b in bulk.bindings}

    envelope = _widget(7)
    assert _deliver(envelope) == "handled"
    assert _deliver(envelope) == "duplicate"
    assert painter.painted == [7]


def test_declared_transient_errors_are_retried(painter: Painter, fakes: Any) -> None:
    apply_declarations(app)
    painter.failure = PaintRanOut("the blue is gone")
    assert _deliver(_widget()) == "retried"
    [retry] = fakes["retries"].messages
    assert retry.source == BULK

    painter.failure = LookupError("no such widget")  # not declared: permanent
    assert _deliver(_widget()) == "dead-lettered"
    [letter] = fakes["dead_letters"].letters
    assert letter.reason == "handler-failed"


def test_an_undeclared_event_type_is_dead_lettered_not_crashed(
    painter: Painter, fakes: Any
) -> None:
    apply_declarations(app)
    declaration = declaration_for(WidgetPainted.event_type)
    assert declaration is not None
    declaration.undeclare()  # its task stays registered in this process
    assert _deliver(_widget()) == "dead-lettered"
    [letter] = fakes["dead_letters"].letters
    assert letter.reason == "unknown-event-type"
    assert painter.painted == []
