"""Rate limiting on the real server, and the metrics both services expose.

A second web container from the same image joins the stack with
``API_RATE_LIMIT=5/minute``: the sixth write is a 429 with ``Retry-After`` and
the ``RateLimit-*`` headers, while the probes and ``/metrics`` keep answering.
It runs one gunicorn worker: without ``REDIS_URL`` each process has its own
buckets (documented), and this test is about the HTTP contract, not sharing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ..support.clients import WebClient
from ..support.containers import Web
from ..support.polling import wait_until
from ..support.stack import Stack

LIMIT = 5


@pytest.fixture(scope="module")
def limited_web(stack: Stack) -> Iterator[WebClient]:
    env = {
        **stack.web_env(),
        "API_RATE_LIMIT": f"{LIMIT}/minute",
        "WEB_CONCURRENCY": "1",
        "WEB_MIGRATE_ON_START": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,web-limited",
    }
    container = Web(stack.images.web, stack.network, env, alias="web-limited")
    try:
        container.start()
        yield WebClient(container.base_url)
    finally:
        container.stop()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, sample_labels), value in _samples(text).items()
        if sample == name and wanted <= sample_labels
    )


def test_writes_over_the_limit_get_429_while_probes_keep_answering(
    limited_web: WebClient, domain: str
) -> None:
    answers = [limited_web.register(f"limited{n}@{domain}") for n in range(LIMIT + 1)]

    assert [r.status_code for r in answers] == [201] * LIMIT + [429], [
        (r.status_code, r.text[:120]) for r in answers
    ]
    for number, allowed in enumerate(answers[:LIMIT]):
        assert allowed.headers["RateLimit-Limit"] == str(LIMIT)
        assert int(allowed.headers["RateLimit-Remaining"]) == LIMIT - 1 - number
    limited = answers[-1]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Limit"] == str(LIMIT)
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert int(limited.headers["RateLimit-Reset"]) >= 1
    assert limited.headers["X-Request-ID"]
    assert limited.headers["content-type"].startswith("application/json")
    assert limited.json()["error"]["code"]

    for _ in range(3):
        for path in ("/healthz", "/readyz", "/metrics"):
            response = limited_web.get(path)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])
    # Reads of the API are not limited either; writes still are.
    assert limited_web.get("/api/openapi.json").status_code == 200
    assert limited_web.register(f"again@{domain}").status_code == 429
    metrics = limited_web.get("/metrics").text
    assert _value(metrics, "courier_web_rate_limited_total") >= 2


def test_web_metrics_expose_requests_and_the_outbox(
    stack: Stack, web: WebClient, domain: str
) -> None:
    assert web.register(f"metrics@{domain}").status_code == 201
    wait_until(lambda: stack.smtp.messages_to(domain), timeout=60, what="the welcome email")

    response = web.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = {"route": "/api/users", "method": "POST"}
    assert _value(text, "courier_web_http_requests_total", status="201", **route) >= 1
    assert _value(text, "courier_web_http_request_duration_seconds_count", **route) >= 1
    assert _value(text, "courier_web_http_request_duration_seconds_bucket", le="+Inf", **route) >= 1
    # The relay published it (woken by the outbox's NOTIFY): its counter says so.
    assert stack.relay is not None
    relay_metrics = requests.get(stack.relay.metrics_url, timeout=10).text
    published = "courier_web_outbox_published_total"
    assert _value(relay_metrics, published, event_type="user.registered.v1") >= 1
    names = {sample for sample, _ in _samples(text)}
    for series in (
        "courier_web_outbox_pending_rows",
        "courier_web_outbox_oldest_pending_age_seconds",
        "courier_web_outbox_failed_rows",
    ):
        assert series in names, series


def test_worker_metrics_expose_tasks_handling_time_retries_and_dead_letters(
    stack: Stack, web: WebClient, domain: str
) -> None:
    request_id = f"metrics-{uuid.uuid4().hex}"
    assert web.register(f"worker-metrics@{domain}", request_id=request_id).status_code == 201
    wait_until(lambda: stack.smtp.messages_to(domain), timeout=60, what="the welcome email")

    def handled() -> str | None:
        # Whichever worker handled it: each container serves its own counters.
        for worker in stack.workers:
            text = requests.get(worker.metrics_url, timeout=10).text
            tasks = "courier_worker_tasks_total"
            if _value(text, tasks, event_type="user.registered.v1", outcome="handled") >= 1:
                return text
        return None

    text = wait_until(handled, timeout=30, what="a worker's handled-task counter", interval=1)
    event = {"event_type": "user.registered.v1"}
    assert _value(text, "courier_worker_handling_seconds_count", **event) >= 1
    assert _value(text, "courier_worker_handling_seconds_bucket", le="+Inf", **event) >= 1
    names = {sample for sample, _ in _samples(text)}
    assert "courier_worker_retries_total" in names
    assert "courier_worker_dead_letters_total" in names
