"""One delivered message: handled once, a duplicate changes nothing, a bad one is refused."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from shared_contracts import Envelope, UserRegistered, encode, new_envelope
from shared_contracts.events.reports import ReportFailed

from courier_web.consumer.models import ConsumedEvent
from courier_web.consumer.processing import Outcome, process
from courier_web.consumer.registry import ConsumptionError, consumes, consumption_for
from courier_web.consumer.topology import routing_keys

pytestmark = pytest.mark.django_db


def wire(envelope: Envelope[Any]) -> tuple[bytes, dict[str, Any]]:
    message = encode(envelope)
    return message.body, dict(message.headers)


@contextmanager
def handling(handler: Callable[[Envelope[ReportFailed]], None]) -> Iterator[None]:
    """``handler`` consumes report.failed.v1 inside the block, in place of the web's own."""
    own = consumption_for(ReportFailed.event_type)
    assert own is not None
    own.withdraw()
    try:
        consumes(ReportFailed)(handler)
        yield
    finally:
        consumption_for(ReportFailed.event_type).withdraw()  # type: ignore[union-attr]
        consumes(ReportFailed)(own.handler)


@pytest.fixture
def calls() -> Iterator[list[Envelope[Any]]]:
    seen: list[Envelope[Any]] = []
    with handling(seen.append):
        yield seen


def failed() -> Envelope[ReportFailed]:
    return new_envelope(
        ReportFailed(report_id=uuid.uuid4(), reason="disk full"),
        producer="courier-worker",
        correlation_id="req-1",
    )


def test_an_event_is_handled_once_however_often_it_arrives(calls: list[Any]) -> None:
    body, headers = wire(failed())
    assert process(body, headers).outcome is Outcome.HANDLED
    assert process(body, headers).outcome is Outcome.DUPLICATE
    assert len(calls) == 1
    assert ConsumedEvent.objects.count() == 1


def test_a_failing_handler_leaves_no_record_so_the_event_comes_again() -> None:
    attempts: list[Envelope[ReportFailed]] = []

    def flaky(envelope: Envelope[ReportFailed]) -> None:
        attempts.append(envelope)
        if len(attempts) == 1:
            raise RuntimeError("database went away")

    with handling(flaky):
        body, headers = wire(failed())
        with pytest.raises(RuntimeError):
            process(body, headers)
        assert ConsumedEvent.objects.count() == 0
        assert process(body, headers).outcome is Outcome.HANDLED
    assert len(attempts) == 2


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"\xff\xfe not json", {}, "undecodable"),
        (b'[[], {"event": {"event_type": "nope.v1"}}, {}]', {}, "unknown-event-type"),
        (b'[[], {"event": {"event_type": "report.failed.v1"}}, {}]', {}, "schema-violation"),
    ],
)
def test_a_message_that_breaks_the_contracts_is_refused_with_its_reason(
    body: bytes, headers: dict[str, Any], reason: str
) -> None:
    result = process(body, headers)
    assert result.outcome is Outcome.DEAD_LETTERED
    assert result.reason == reason
    assert result.detail
    assert ConsumedEvent.objects.count() == 0


def test_an_event_the_web_does_not_consume_is_refused() -> None:
    body, headers = wire(
        new_envelope(
            UserRegistered(user_id=1, email="a@example.com"), producer="x", correlation_id="r"
        )
    )
    result = process(body, headers)
    assert result.outcome is Outcome.DEAD_LETTERED
    assert result.reason == "unknown-event-type"


def test_headers_that_disagree_with_the_body_are_refused() -> None:
    body, headers = wire(failed())
    headers["id"] = str(uuid.uuid4())
    assert process(body, headers).outcome is Outcome.DEAD_LETTERED
    assert json.loads(body)[1]["event"]["event_type"] == "report.failed.v1"


def test_the_queue_is_bound_by_the_declared_result_events_only() -> None:
    keys = set(routing_keys())
    assert {
        "report.completed.v1",
        "report.failed.v1",
        "document.processed.v1",
        "document.failed.v1",
    } <= keys
    # Bound by what has a handler, nothing else (not the web's own events).
    assert all(consumption_for(key) is not None for key in keys)
    assert not keys & {"user.registered.v1", "report.requested.v1", "document.uploaded.v1"}


def test_one_handler_per_event_type() -> None:
    def another(envelope: Envelope[ReportFailed]) -> None: ...

    with pytest.raises(ConsumptionError, match="already consumed"):
        consumes(ReportFailed)(another)
