"""The id of the request being served, for events and log lines it causes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

_request_id: ContextVar[str | None] = ContextVar("courier_request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request this code runs for, or None outside a request."""
    return _request_id.get()


def correlation_id() -> str:
    """The correlation id for an event caused now: the request's, or a fresh one."""
    return _request_id.get() or new_request_id()


@contextmanager
def bound_request_id(request_id: str) -> Iterator[None]:
    """Make ``request_id`` current (and part of every log line) inside the block."""
    token = _request_id.set(request_id)
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            yield
        finally:
            _request_id.reset(token)
