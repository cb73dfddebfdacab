"""Rate limiting of the API's write methods: one token bucket per client.

The client is the authenticated user (bearer token or session) when there is
one, else the client IP: ``REMOTE_ADDR``, or the ``X-Forwarded-For`` entry
written by the outermost of ``TRUSTED_PROXY_COUNT`` proxies. Reads, probes
and ``/metrics`` are never limited.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from courier_web.api.errors import error_body
from courier_web.metrics.registry import RATE_LIMITED
from courier_web.ratelimit import Bucket, Decision, LocalBucket, RedisBucket, parse_rate
from courier_web.users.auth import client_user_id

log = structlog.get_logger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NEVER_LIMITED = frozenset({"/healthz", "/readyz", "/metrics"})


def client_ip(request: HttpRequest, *, trusted_proxies: int) -> str:
    """The caller's address, trusting ``X-Forwarded-For`` only as far as our own proxies."""
    remote = str(request.META.get("REMOTE_ADDR") or "unknown")
    if trusted_proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if part.strip()
    ]
    # Each proxy appends the address it received the request from; the
    # entries left of our proxies' are the caller's own claims.
    if len(forwarded) >= trusted_proxies:
        return forwarded[-trusted_proxies]
    return remote


def client_key(request: HttpRequest, *, trusted_proxies: int) -> str:
    user_id = client_user_id(request)
    if user_id is not None:
        return f"user:{user_id}"
    return f"ip:{client_ip(request, trusted_proxies=trusted_proxies)}"


def bucket_from_settings() -> Bucket | None:
    rate = parse_rate(str(settings.API_RATE_LIMIT))
    if rate is None:
        return None
    if settings.REDIS_URL:
        return RedisBucket.from_url(
            rate,
            settings.REDIS_URL,
            timeout=settings.RATE_LIMIT_REDIS_TIMEOUT,
            prefix=settings.RATE_LIMIT_KEY_PREFIX,
            on_error=lambda exc: log.warning(
                "ratelimit.redis_unavailable",
                error=f"{type(exc).__name__}: {exc}"[:300],
                note="failing open: requests are not rate limited until Redis answers",
            ),
            on_recovery=lambda: log.info("ratelimit.redis_back"),
        )
    return LocalBucket(rate)


def _set_headers(response: HttpResponseBase, decision: Decision) -> None:
    response["RateLimit-Limit"] = str(decision.limit)
    response["RateLimit-Remaining"] = str(decision.remaining)
    response["RateLimit-Reset"] = str(decision.reset)


class RateLimitMiddleware:
    """``429`` with ``Retry-After`` once a client's bucket is empty; fails open."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.bucket = bucket_from_settings()
        self.trusted_proxies = int(settings.TRUSTED_PROXY_COUNT)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            self.bucket is None
            or request.method not in WRITE_METHODS
            or not request.path.startswith("/api/")
            or request.path in NEVER_LIMITED
        ):
            return self.get_response(request)
        decision = self.bucket.take(client_key(request, trusted_proxies=self.trusted_proxies))
        if decision is None:  # the shared store is away: availability over limiting
            return self.get_response(request)
        if not decision.allowed:
            RATE_LIMITED.inc()
            response: HttpResponseBase = JsonResponse(
                error_body(
                    "rate_limited",
                    f"too many requests: at most {decision.limit} writes per "
                    f"{_period_text(self.bucket.rate.period)}; retry in "
                    f"{decision.retry_after}s",
                ),
                status=429,
            )
            response["Retry-After"] = str(decision.retry_after)
        else:
            response = self.get_response(request)
        _set_headers(response, decision)
        return response


def _period_text(period: float) -> str:
    for name, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if period == seconds:
            return name
    return f"{math.ceil(period)} seconds" if period != 1 else "second"
