"""The requests the load generator sends (``loadgen.RequestFactory``): registrations, health."""

from __future__ import annotations

import json

from bench.loadgen import RequestFactory


def register_user(tag: str) -> RequestFactory:
    """``POST /api/users`` with a new email per request (``tag`` keeps runs apart)."""

    def make(thread: int, i: int) -> tuple[str, str, bytes | None, dict[str, str]]:
        body = json.dumps(
            {
                "email": f"{tag}-{thread}-{i}@bench.example.com",
                "password": "correct-horse-battery-9",
            }
        ).encode()
        return "POST", "/api/users", body, {"content-type": "application/json"}

    return make


def register_user_tagged(tag: str) -> RequestFactory:
    """``register_user`` with an ``X-Request-ID`` per request: the worker logs it as
    ``correlation_id``."""
    register = register_user(tag)

    def make(thread: int, i: int) -> tuple[str, str, bytes | None, dict[str, str]]:
        method, path, body, headers = register(thread, i)
        return method, path, body, {**headers, "X-Request-ID": f"{tag}x{i}"}

    return make


def healthz(thread: int, i: int) -> tuple[str, str, bytes | None, dict[str, str]]:
    """``GET /healthz``."""
    return "GET", "/healthz", None, {}


__all__ = ["healthz", "register_user", "register_user_tagged"]
