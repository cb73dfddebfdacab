"""Fault tests: each injects one fault into the running stack and accounts for every event.

Whatever a test breaks, ``restored_stack`` puts the session stack back as the
other tests expect it: broker running, SMTP sink answering and accepting, the
relay running, exactly one worker, running (``memory_alarm`` clears the alarm).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..support import accounting
from ..support.stack import Stack
from .helpers import container_status, ensure_running, start_relay_again, start_worker_again

log = logging.getLogger(__name__)


@pytest.fixture(autouse=True)
def restored_stack(stack: Stack) -> Iterator[Stack]:
    assert len(stack.workers) == 1, "fault tests start from the single session worker"
    yield stack
    problems = []
    for step in (_restore_broker, _restore_sink, _restore_relay, _restore_workers):
        try:
            step(stack)
        except Exception as exc:  # restore the rest, then report
            log.exception("could not restore the stack")
            problems.append(f"{step.__name__}: {exc!r}")
    assert not problems, f"the stack could not be restored: {problems}"


def _restore_broker(stack: Stack) -> None:
    ensure_running(stack.rabbitmq)


def _restore_sink(stack: Stack) -> None:
    ensure_running(stack.smtp)
    stack.smtp.refuse_next(0)


def _restore_relay(stack: Stack) -> None:
    assert stack.relay is not None
    if container_status(stack.relay) != "running":
        start_relay_again(stack.relay)


def _restore_workers(stack: Stack) -> None:
    first, *others = stack.workers
    for worker in others:
        stack.remove_worker(worker)
    if container_status(first) != "running":
        start_worker_again(first)


@pytest.fixture
def memory_alarm(stack: Stack) -> Iterator[Callable[[bool], None]]:
    """Raise or clear the broker's memory alarm; always cleared (watermark 0.4) afterwards."""

    def set_alarm(on: bool) -> None:
        stack.rabbitmq.rabbitmqctl("set_vm_memory_high_watermark", "0" if on else "0.4")

    try:
        yield set_alarm
    finally:
        with contextlib.suppress(Exception):
            ensure_running(stack.rabbitmq)
        set_alarm(False)


@pytest.fixture
def settle(request: pytest.FixtureRequest, stack: Stack) -> Callable[..., Any]:
    """``support.accounting.settle`` for this test: ``settle(domain=..., produced=...)``."""
    return functools.partial(accounting.settle, stack, test=request.node.name)


@pytest.fixture
def note(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Report a measurement: logged, and printed under the test's accounting at the end."""
    return functools.partial(accounting.note, request.node.name)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = accounting.summary_lines()
    if lines:
        terminalreporter.section("fault accounting")
        for line in lines:
            terminalreporter.write_line(line)
