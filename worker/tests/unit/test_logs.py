"""Every line written while an event is handled says which event (and request) it is about."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from courier_worker import bootstrap
from courier_worker.celery_app import app
from courier_worker.logs import configure_logging
from shared_contracts import Envelope, UserRegistered

from tests.fakes import SmtpRefusingMailer
from tests.unit.test_tasks import Fakes


@pytest.fixture
def json_logs() -> Iterator[Any]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO")
    [handler] = root.handlers
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield lines
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_handling_lines_carry_the_event_and_the_request(
    json_logs: Any, registration: Envelope[UserRegistered]
) -> None:
    fakes = Fakes()
    bootstrap.install(fakes.container())
    kwargs = {"event": registration.model_dump(mode="json")}
    task = app.tasks[registration.event_type]
    for _ in range(2):
        task.apply(kwargs=kwargs, task_id=str(registration.event_id)).get()
    lines = json_logs()
    assert lines
    for line in lines:
        assert line["event_id"] == str(registration.event_id), line
        assert line["event_type"] == registration.event_type, line
        assert "correlation_id" in line, line
        assert isinstance(line["pid"], int)
    events = [line["event"] for line in lines]
    assert events.count("event.handled") == 1
    assert events.count("event.duplicate") == 1
    handled = next(line for line in lines if line["event"] == "event.handled")
    assert handled["correlation_id"] == registration.correlation_id
    assert any("succeeded" in str(line["event"]) for line in lines)  # Celery's own line


def test_a_retry_is_logged_with_its_delay(
    json_logs: Any, registration: Envelope[UserRegistered]
) -> None:
    fakes = Fakes()
    bootstrap.install(fakes.container(mailer=SmtpRefusingMailer(451)))
    kwargs = {"event": registration.model_dump(mode="json")}
    app.tasks[registration.event_type].apply(kwargs=kwargs, task_id=str(registration.event_id))
    [retry] = [line for line in json_logs() if line["event"] == "event.retry_scheduled"]
    assert retry["retry"] == 1
    assert retry["delay_seconds"] in fakes.policy.tiers
    assert retry["delay_queue"].startswith("courier.worker.critical.delay.")
    assert "451" in retry["error"]
    assert retry["correlation_id"] == registration.correlation_id
