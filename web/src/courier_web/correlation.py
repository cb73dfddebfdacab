"""The id of the request being served, for events and log lines it causes."""

from __future__ import annotations

import random
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

_request_id: ContextVar[str | None] = ContextVar("courier_request_id", default=None)


def new_request_id() -> str:
    """128 random bits as 32 hex digits.

    An id only has to be unique, not unguessable, so ``random`` (reseeded in
    every forked worker) rather than ``uuid.uuid4()``, which costs several
    times as much: a system call for the bytes and a UUID object around them.
    """
    return f"{random.getrandbits(128):032x}"


def current_request_id() -> str | None:
    """The id of the request this code runs for, or None outside a request."""
    return _request_id.get()


def correlation_id() -> str:
    """The correlation id for an event caused now: the request's, or a fresh one."""
    return _request_id.get() or new_request_id()


def set_request_id(request_id: str) -> Token[str | None]:
    """Make ``request_id`` current until ``reset_request_id(token)``."""
    return _request_id.set(request_id)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


@contextmanager
def bound_request_id(request_id: str) -> Iterator[None]:
    """Make ``request_id`` current (and part of every log line) inside the block."""
    token = set_request_id(request_id)
    try:
        yield
    finally:
        reset_request_id(token)


def add_request_id(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``request_id`` on every line logged while serving a request.

    Reads the one contextvar above rather than binding the id a second time in
    structlog's own context, which cost more than the rest of the request id.
    """
    request_id = _request_id.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict
