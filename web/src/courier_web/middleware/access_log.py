"""One structured line and the request metrics per request, timed in one place.

The line is ``{"event": "http.request", "method", "path", "route", "status",
"duration_ms", "request_id", "user_id"}`` on logger ``courier_web.access``.
``path`` never includes the query string (it may carry secrets); ``route`` is
the URL pattern (``/api/users/<user_id>``), also the ``route`` label of the
metrics, so their cardinality stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from courier_web.config.logging import EventWriter
from courier_web.metrics.registry import observe_request
from courier_web.users.auth import known_user_id

LOGGER = "courier_web.access"
UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return UNMATCHED_ROUTE
    return "/" + str(match.route)


class AccessLogMiddleware:
    """Logs ``http.request`` and feeds the request counter and latency histogram."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.line = EventWriter(LOGGER, level=settings.LOG_LEVEL, fmt=settings.LOG_FORMAT)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = route_of(request)
        method = request.method if request.method in _METHODS else "OTHER"
        observe_request(route=route, method=method, status=response.status_code, seconds=elapsed)
        self.line.write(
            {
                "method": method,
                "path": request.path,
                "route": route if route != UNMATCHED_ROUTE else None,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "user_id": known_user_id(request),
                "event": "http.request",
            }
        )
        return response
