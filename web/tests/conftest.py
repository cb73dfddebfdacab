from __future__ import annotations

from collections.abc import Iterator

import pytest

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
