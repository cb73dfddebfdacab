"""Prometheus against the running stack, with the shipped scrape configuration and rules.

A Prometheus server joins the suite's network next to the worker's queue
exporter and scrapes web, relay, worker and exporter every second. It shows
every target up, every metric the rules and the dashboard use, and the
shipped alerts firing when their fault is real: the outbox's oldest-row
alert while the broker is stopped, and the queue age alert while the worker
is. Only the thresholds and ``for`` durations of those two alerts are
shortened (``support/observability.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import yaml

from ..faults.helpers import start_worker_again
from ..support.clients import WebClient
from ..support.containers import ServiceContainer
from ..support.observability import (
    OBSERVABILITY,
    QUEUE_EXPORTER_PORT,
    Prometheus,
    QueueExporter,
    Shortened,
    alerting_rules,
    scrape_config,
)
from ..support.polling import wait_until
from ..support.stack import Stack

OUTBOX_AGE = "CourierOutboxOldestPendingAge"
QUEUE_AGE = "CourierQueueOldestMessageAge"
SHORTENED = {
    OUTBOX_AGE: Shortened("> 300", "> 4"),
    QUEUE_AGE: Shortened("> 300", "> 4"),
}
CRITICAL_QUEUE = "courier.worker.critical"


@pytest.fixture(scope="module")
def queue_exporter(stack: Stack) -> Iterator[QueueExporter]:
    exporter = QueueExporter(stack.images.worker, stack.network, stack.worker_env())
    try:
        exporter.start()
        yield exporter
    finally:
        exporter.stop()


@pytest.fixture(scope="module")
def prometheus(stack: Stack, queue_exporter: QueueExporter) -> Iterator[Prometheus]:
    assert stack.web is not None
    assert stack.relay is not None
    targets = {
        "courier-web": [f"{stack.web.alias}:8000"],
        "courier-relay": [f"{stack.relay.alias}:9809"],
        "courier-worker": [f"{worker.alias}:9808" for worker in stack.workers],
        "courier-queues": [f"{queue_exporter.alias}:{QUEUE_EXPORTER_PORT}"],
    }
    server = Prometheus(
        stack.images.prometheus,
        stack.network,
        config=scrape_config(targets),
        rules=alerting_rules(SHORTENED),
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _running(container: ServiceContainer) -> bool:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return bool(wrapped.status == "running")


@pytest.fixture
def stack_restored(stack: Stack) -> Iterator[Stack]:
    """Whatever a test stops (broker, worker), it runs again afterwards."""
    yield stack
    if not _running(stack.rabbitmq):
        stack.rabbitmq.docker_start()
    for worker in stack.workers:
        if not _running(worker):
            start_worker_again(worker)


def _all_up(prometheus: Prometheus, expected: set[tuple[str, str]]) -> list[dict[str, str]] | None:
    targets = prometheus.targets()
    found = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets}
    if found != expected or any(t["health"] != "up" for t in targets):
        return None
    return targets


def test_every_target_is_up(stack: Stack, prometheus: Prometheus) -> None:
    expected = {
        ("courier-web", "web:8000"),
        ("courier-relay", "relay:9809"),
        ("courier-queues", f"queue-exporter:{QUEUE_EXPORTER_PORT}"),
        *(("courier-worker", f"{worker.alias}:9808") for worker in stack.workers),
    }

    wait_until(
        lambda: _all_up(prometheus, expected),
        timeout=60,
        what=f"Prometheus to scrape every target: {sorted(expected)}",
        interval=1,
    )

    assert prometheus.query('sum(up{job=~"courier-.*"})')[0]["value"][1] == str(len(expected))

    def rules_evaluated() -> list[dict[str, str]]:
        rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
        return rules if rules and all(rule["health"] == "ok" for rule in rules) else []

    rules = wait_until(rules_evaluated, timeout=30, what="every rule evaluated without error")
    assert {rule["name"] for rule in rules} >= {OUTBOX_AGE, QUEUE_AGE}


def _used_metric_names() -> dict[str, set[str]]:
    """The metric names each shipped rule and dashboard panel reads, by where they are used."""
    pattern = re.compile(r"\b(courier_[a-z0-9_]+|up)\b")
    used: dict[str, set[str]] = {}
    for path in sorted((OBSERVABILITY / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                for name in pattern.findall(rule["expr"]):
                    used.setdefault(name, set()).add(rule.get("alert") or rule.get("record"))
    dashboard = json.loads((OBSERVABILITY / "grafana" / "courier.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in pattern.findall(target["expr"]):
                used.setdefault(name, set()).add(f"dashboard: {panel['title']}")
    return used


def test_every_metric_the_rules_and_the_dashboard_use_is_exported(
    stack: Stack, prometheus: Prometheus, web: WebClient, domain: str
) -> None:
    # A registration gives the labelled series (requests, publishes, tasks) their first samples.
    assert web.register(f"prometheus@{domain}").status_code == 201
    wait_until(lambda: stack.smtp.messages_to(domain), timeout=60, what="the welcome email")
    used = _used_metric_names()
    assert "courier_queue_oldest_waiting_age_seconds" in used
    assert "courier_web_outbox_oldest_pending_age_seconds" in used

    absent: dict[str, set[str]] = dict(used)

    def all_exported() -> bool:
        exported = prometheus.metric_names()
        for name in [name for name in absent if name in exported]:
            del absent[name]
        return not absent

    try:
        wait_until(all_exported, timeout=60, what="every used metric name", interval=1)
    except AssertionError as exc:
        pytest.fail(f"{exc}; used but exported by no target: {absent}")


def _value(prometheus: Prometheus, expr: str) -> float | None:
    result = prometheus.query(expr)
    return float(result[0]["value"][1]) if result else None


def test_the_outbox_age_alert_fires_while_the_broker_is_stopped(
    stack_restored: Stack, prometheus: Prometheus, web: WebClient, domain: str
) -> None:
    stack = stack_restored
    wait_until(
        lambda: _value(prometheus, "max(courier_web_outbox_oldest_pending_age_seconds)") == 0,
        timeout=60,
        what="an empty outbox before the broker stops",
        interval=1,
    )
    assert prometheus.alerts(OUTBOX_AGE) == []

    stack.rabbitmq.docker_stop()
    assert web.register(f"outage@{domain}").status_code == 201

    alert = wait_until(
        lambda: prometheus.firing(OUTBOX_AGE),
        timeout=90,
        what=f"{OUTBOX_AGE} to fire while the broker is stopped",
        interval=1,
    )
    assert float(alert[0]["value"]) > 4
    assert alert[0]["annotations"]["runbook"] == "docs/reliability.md#courieroutboxoldestpendingage"
    # The queue exporter reports the broker away, not stale counts.
    assert _value(prometheus, "max(courier_queue_exporter_broker_up)") == 0

    stack.rabbitmq.docker_start()
    wait_until(
        lambda: stack.smtp.messages_to(domain), timeout=120, what="the email after the outage"
    )
    wait_until(
        lambda: prometheus.alerts(OUTBOX_AGE) == [],
        timeout=60,
        what=f"{OUTBOX_AGE} to resolve once the row is published",
        interval=1,
    )


def test_the_queue_age_alert_fires_while_no_worker_takes_messages(
    stack_restored: Stack, prometheus: Prometheus, web: WebClient, domain: str
) -> None:
    stack = stack_restored
    # Every work queue's markers answered within the resolution (say, once the
    # worker reconnected after an earlier test's broker restart), no alert.
    wait_until(
        lambda: (
            (seconds := _value(prometheus, "max(courier_queue_oldest_waiting_age_seconds)"))
            is not None
            and seconds <= 2
            and prometheus.alerts(QUEUE_AGE) == []
        ),
        timeout=90,
        what="every work queue taken in by the worker, and no queue age alert",
        interval=1,
    )

    for worker in stack.workers:
        worker.docker_stop()
    assert web.register(f"waiting@{domain}").status_code == 201

    alert = wait_until(
        lambda: [a for a in prometheus.firing(QUEUE_AGE) if a["labels"]["queue"] == CRITICAL_QUEUE],
        timeout=90,
        what=f"{QUEUE_AGE} to fire for {CRITICAL_QUEUE} while no worker runs",
        interval=1,
    )
    assert float(alert[0]["value"]) > 4
    consumers = f'max(courier_queue_consumers{{queue="{CRITICAL_QUEUE}"}})'
    assert _value(prometheus, consumers) == 0
    ready = f'max(courier_queue_messages_ready{{queue="{CRITICAL_QUEUE}"}})'
    assert (_value(prometheus, ready) or 0) >= 2  # the registration and the markers

    for worker in stack.workers:
        start_worker_again(worker)
    wait_until(lambda: stack.smtp.messages_to(domain), timeout=120, what="the email once it runs")
    wait_until(
        lambda: prometheus.alerts(QUEUE_AGE) == [],
        timeout=60,
        what=f"{QUEUE_AGE} to resolve once the worker takes the messages",
        interval=1,
    )
