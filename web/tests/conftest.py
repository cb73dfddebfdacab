from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from courier_web.config.logging import _SHARED
from courier_web.outbox.dispatch import use_dispatcher
from tests.fakes import FakePublisher, InlineDispatcher

STRONG_PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def fake_publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def inline_dispatcher(fake_publisher: FakePublisher) -> Iterator[InlineDispatcher]:
    """Committed rows are published at once through ``fake_publisher``."""
    dispatcher = InlineDispatcher(fake_publisher)
    with use_dispatcher(dispatcher):
        yield dispatcher


class CapturedLogs:
    """Every log line as rendered by the service's own JSON formatter."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.getvalue()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]
        return [line for line in lines if name is None or line.get("event") == name]


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Attach a handler with the real formatter to the root logger, at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=_SHARED,
        )
    )
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield CapturedLogs(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
