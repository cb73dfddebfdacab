"""The Django cache: Redis when ``REDIS_URL`` is set, else each process's own memory."""

from __future__ import annotations

from typing import Any


def default_cache(redis_url: str, *, timeout: float) -> dict[str, Any]:
    """The ``CACHES["default"]`` entry.

    ``timeout`` bounds each Redis connect, read and write: the cache is an
    optimisation, so a Redis that hangs must cost a request that much, not the
    client's default of no timeout at all.
    """
    if not redis_url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url,
        "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
    }
