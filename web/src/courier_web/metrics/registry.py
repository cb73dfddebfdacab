"""The metrics this service records, in their own registry.

Under gunicorn several worker processes serve requests: with
``PROMETHEUS_MULTIPROC_DIR`` set (before the process starts) prometheus_client
keeps every process's values in files there and ``GET /metrics`` sums them
(see ``views.py``). Without it, each process reports its own values.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

#: Our metrics only (not the default registry's process/platform collectors,
#: which are wrong in multiprocess mode).
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "courier_web_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "courier_web_http_request_duration_seconds",
    "Time to answer an HTTP request (inside the middleware stack), by route and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "courier_web_rate_limited_total",
    "Write requests refused with 429 by the rate limiter.",
    registry=REGISTRY,
)
OUTBOX_PUBLISHED = Counter(
    "courier_web_outbox_published_total",
    "Outbox rows the broker confirmed (marked sent), by event type.",
    ["event_type"],
    registry=REGISTRY,
)
OUTBOX_RETURNED = Counter(
    "courier_web_outbox_returned_total",
    "Outbox rows returned as unroutable (marked failed), by event type.",
    ["event_type"],
    registry=REGISTRY,
)
OUTBOX_PUBLISH_FAILED = Counter(
    "courier_web_outbox_publish_failed_total",
    "Publish attempts that failed (nack, broker away or blocked); the row stays pending.",
    ["event_type"],
    registry=REGISTRY,
)


#: The counter and histogram children of each (route, method, status) seen so
#: far: ``labels()`` validates its arguments and takes a lock on every call.
#: The label values are bounded (route templates, a fixed set of methods,
#: status codes), and so is this cache.
_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _REQUEST_CHILDREN.get(key)
    if children is None:
        children = _REQUEST_CHILDREN[key] = (
            HTTP_REQUESTS.labels(route, method, str(status)),
            HTTP_DURATION.labels(route, method),
        )
    requests, duration = children
    requests.inc()
    duration.observe(seconds)
