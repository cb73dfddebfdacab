"""``WORKER_QUEUES``: one worker per queue, and a clear refusal of a queue the worker lacks."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.exceptions import ImproperlyConfigured
from courier_worker.celery_app import apply_declarations, select_queues
from courier_worker.queues import BULK, CRITICAL, queue_named
from courier_worker.settings import Settings
from courier_worker.topology import consuming_queues
from pydantic import ValidationError


def _app() -> Celery:
    """A fresh app with the worker's queues: selecting mutates the app's queue map."""
    fresh = Celery("test", set_as_current=False)
    fresh.conf.task_queues = consuming_queues()
    fresh.conf.task_create_missing_queues = False
    return fresh


def test_unset_means_every_queue() -> None:
    assert Settings().WORKER_QUEUES == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("critical", (CRITICAL.name,)),
        ("bulk", (BULK.name,)),
        (" bulk , critical ", (CRITICAL.name, BULK.name)),
        ("courier.worker.bulk,bulk", (BULK.name,)),
    ],
)
def test_short_and_full_names_are_accepted(
    value: str, expected: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_QUEUES", value)
    assert expected == Settings().WORKER_QUEUES


def test_an_unknown_queue_is_refused_with_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_QUEUES", "critical,urgent")
    with pytest.raises(ValidationError) as raised:
        Settings()
    message = str(raised.value)
    assert "unknown queue 'urgent'" in message
    assert "critical (courier.worker.critical)" in message
    assert "bulk (courier.worker.bulk)" in message


def test_queue_named_knows_both_spellings() -> None:
    assert queue_named("critical") is CRITICAL
    assert queue_named("courier.worker.bulk") is BULK
    with pytest.raises(ValueError, match="unknown queue 'nope'"):
        queue_named("nope")


@pytest.mark.parametrize("spec", [CRITICAL, BULK])
def test_a_selected_worker_consumes_its_queue_only(spec: object) -> None:
    app = _app()
    name = spec.name  # type: ignore[attr-defined]
    select_queues(app, (name,))
    apply_declarations(app)  # what worker_init runs next must not widen the selection
    assert set(app.amqp.queues.consume_from) == {name}


def test_without_a_selection_every_queue_is_consumed() -> None:
    app = _app()
    select_queues(app, ())
    apply_declarations(app)
    assert set(app.amqp.queues.consume_from) == {CRITICAL.name, BULK.name}


def test_q_and_worker_queues_must_agree() -> None:
    app = _app()
    app.amqp.queues.select([CRITICAL.name])  # what `-Q courier.worker.critical` does
    with pytest.raises(ImproperlyConfigured, match="give one of them"):
        select_queues(app, (BULK.name,))
    select_queues(app, (CRITICAL.name,))  # the same selection twice is fine
    assert set(app.amqp.queues.consume_from) == {CRITICAL.name}
