"""Who is calling: a session (cookie) or an API bearer token.

``bearer_user`` resolves the ``Authorization: Bearer`` header once per request
and caches the answer on the request, so the rate limiter, the API's auth and
the access log share one lookup. The token itself is never logged. The user an
API call authenticates as becomes the request's actor (``courier_web.actor``),
which the events it causes name. ``staff_auth`` lets staff only: anyone else
who authenticates gets ``NotAllowed`` (403) before the request body is read.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from courier_web.actor import current_actor_id, set_actor
from courier_web.users.errors import NotAllowed
from courier_web.users.models import User
from courier_web.users.selectors import user_for_token

_CACHE_ATTR = "_courier_bearer_user"
_MISSING = object()


def bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_user(request: HttpRequest) -> User | None:
    """The active user whose token the request carries, or None (cached per request)."""
    cached = getattr(request, _CACHE_ATTR, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    token = bearer_token(request)
    user = user_for_token(token=token) if token else None
    setattr(request, _CACHE_ATTR, user)
    return user


def known_user_id(request: HttpRequest) -> int | None:
    """The caller's user id if it is already known, without any new query.

    For the access log: it must not make every request load its session. The
    actor an API call authenticated as comes first: it outlives the account
    when the request deletes it (Django then clears the instance's pk).
    """
    actor = current_actor_id()
    if actor is not None:
        return actor
    user = getattr(request, _CACHE_ATTR, None)
    if user is None:
        user = getattr(request, "_cached_user", None)  # set once request.user was evaluated
    if user is not None and user.is_authenticated and user.pk is not None:
        return int(user.pk)
    return None


def client_user_id(request: HttpRequest) -> int | None:
    """The caller's user id (token or session), resolving them if needed; None if anonymous."""
    user = bearer_user(request)
    if user is not None:
        return int(user.pk)
    session_user = getattr(request, "user", None)
    if session_user is not None and session_user.is_authenticated:
        return int(session_user.pk)
    return None


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>`` from ``POST /api/tokens``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = bearer_user(request)
        if user is not None:
            request.user = user
            set_actor(user.pk)  # ActorMiddleware forgets it when the request ends
        return user


class SessionCookieAuth(APIKeyCookie):
    """Django's session cookie, CSRF-checked, but only when the cookie is sent.

    ninja's own ``SessionAuth`` checks CSRF first, which answers an anonymous
    caller 403 instead of 401.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key and request.user.is_authenticated:
            set_actor(request.user.pk)  # ActorMiddleware forgets it when the request ends
            return request.user
        return None


def _staff_only(user: Any) -> Any:
    if user is not None and not user.is_staff:
        raise NotAllowed("staff only")
    return user


class StaffTokenAuth(TokenAuth):
    """A bearer token of a staff account; another account's token is a 403."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return _staff_only(super().authenticate(request, token))


class StaffSessionCookieAuth(SessionCookieAuth):
    """The session of a staff account; another account's session is a 403."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return _staff_only(super().authenticate(request, key))


#: Token first (no cookie, no CSRF), then the Django session (CSRF-checked by ninja).
user_auth = [TokenAuth(), SessionCookieAuth()]
#: As ``user_auth``, for staff accounts only: 401 without credentials, 403 for others.
staff_auth = [StaffTokenAuth(), StaffSessionCookieAuth()]
