"""Who is acting: the id of the user a request authenticated as, for the events it causes.

``users.auth`` sets it when a bearer token or a session authenticates an API
call, and ``ActorMiddleware`` resets it when the request ends (also on an
error), so a thread that serves the next request never inherits it. Code
outside a request (a management command, a test) binds one with
``bound_actor(user_id)``. Anonymous calls have no actor: ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from django.http import HttpRequest, HttpResponse

__all__ = [
    "ActorMiddleware",
    "bound_actor",
    "current_actor_id",
    "reset_actor",
    "set_actor",
]

_actor_id: ContextVar[int | None] = ContextVar("courier_actor_id", default=None)


def current_actor_id() -> int | None:
    """The id of the user acting now, or None (anonymous, or outside a request)."""
    return _actor_id.get()


def set_actor(user_id: int | None) -> Token[int | None]:
    """Make ``user_id`` the actor until ``reset_actor(token)``."""
    return _actor_id.set(user_id)


def reset_actor(token: Token[int | None]) -> None:
    _actor_id.reset(token)


@contextmanager
def bound_actor(user_id: int | None) -> Iterator[None]:
    """Make ``user_id`` the actor inside the block."""
    token = set_actor(user_id)
    try:
        yield
    finally:
        reset_actor(token)


class ActorMiddleware:
    """Starts every request without an actor and forgets the one it set, whatever happens."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with bound_actor(None):
            return self.get_response(request)
