from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from courier_web.config.logging import foreign_formatter
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
    """Every log line as the service renders it: structlog's and stdlib's."""

    def __init__(self, capsys: pytest.CaptureFixture[str], foreign: io.StringIO) -> None:
        self._capsys = capsys
        self._foreign = foreign
        self._stdout = ""

    @property
    def text(self) -> str:
        self._stdout += self._capsys.readouterr().out
        return self._stdout + self._foreign.getvalue()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]
        return [line for line in lines if name is None or line.get("event") == name]


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[CapturedLogs]:
    """Lines logged during the test, at ``LOG_LEVEL`` and above for structlog's.

    structlog writes its lines to stdout, read here through ``capsys``; stdlib
    records reach a handler with the service's own formatter on the root logger.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(foreign_formatter("json"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield CapturedLogs(capsys, stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
