"""``GET /metrics``: Prometheus text for the whole service, not one process."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from courier_web.metrics.collectors import OutboxCollector
from courier_web.metrics.registry import REGISTRY


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: every process's values, plus the outbox gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Single())
    registry.register(OutboxCollector())
    return registry


class _Single:
    """This process's own metrics (no multiprocess directory configured)."""

    def collect(self):  # type: ignore[no-untyped-def]
        return REGISTRY.collect()


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
