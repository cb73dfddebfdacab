"""`infra/observability` reads only metrics the services export, and every alert has a runbook.

The exported names come from the services themselves, rendered here without
a network: the web's ``/metrics`` registry and the relay's collector (in a
subprocess with the web's test settings and a migrated SQLite database), the
worker's metrics with their series created at zero, and the queue exporter's
gauges after one round against a fake broker. The end-to-end suite checks
the same names against what Prometheus scrapes from the containers
(``tests_integration/scenarios/test_prometheus.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from courier_worker import metrics as worker_metrics
from courier_worker.handlers import HANDLERS
from courier_worker.queue_exporter import QueueCollector, QueueExporter, watched_queues
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

ROOT = Path(__file__).resolve().parent.parent
OBSERVABILITY = ROOT / "infra" / "observability"
RELIABILITY = ROOT / "docs" / "reliability.md"
#: Series Prometheus makes itself for every target.
PROMETHEUS_OWN = {"up"}
_NAME = re.compile(r"\b(courier_[a-z0-9_]+|up)\b")

_WEB_SCRIPT = textwrap.dedent(
    """
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from prometheus_client import generate_latest
    from courier_web.metrics.collectors import RelayCollector
    from courier_web.metrics.views import scrape_registry
    from courier_web.outbox.relay_state import RelayHealth

    registry = scrape_registry()
    registry.register(RelayCollector(lambda: RelayHealth(True, True, 0)))
    print(generate_latest(registry).decode())
    """
)


def _names(text: str) -> set[str]:
    """Every series name ``text`` has or describes (a family without samples yet included)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def _web_text(tmp_path: Path) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "courier_web.config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", _WEB_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


class _Broker:
    """Every queue exists, empty, with one consumer."""

    def inspect(self, queue: str) -> tuple[int, int]:
        return 0, 1

    def publish_marker(self, queue: str, body: bytes) -> None:
        pass


def _worker_text() -> str:
    worker_metrics.reset()
    try:
        recorded = worker_metrics.metrics()
        recorded.zero(HANDLERS, worker_metrics.DEAD_LETTER_REASONS)
        return generate_latest(recorded.registry).decode()
    finally:
        worker_metrics.reset()


def _queue_exporter_text() -> str:
    exporter = QueueExporter(watched_queues((5, 60)))
    exporter.poll(_Broker())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(exporter))
    return generate_latest(registry).decode()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    web = _web_text(tmp_path_factory.mktemp("web-metrics"))
    return _names(web) | _names(_worker_text()) | _names(_queue_exporter_text()) | PROMETHEUS_OWN


def _alerts() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted((OBSERVABILITY / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((OBSERVABILITY / "grafana" / "courier.json").read_text())
    return loaded


def test_the_rules_read_only_exported_metrics(exported: set[str]) -> None:
    used = {(rule["alert"], name) for rule in _alerts() for name in _NAME.findall(rule["expr"])}
    assert used, "no metric found in the rules"
    assert [(alert, name) for alert, name in sorted(used) if name not in exported] == []


def test_the_dashboard_reads_only_exported_metrics(exported: set[str]) -> None:
    used = {
        (panel["title"], name)
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
        for name in _NAME.findall(target["expr"])
    }
    assert used, "no metric found in the dashboard"
    assert [(title, name) for title, name in sorted(used) if name not in exported] == []


def test_the_rules_and_the_dashboard_cover_the_same_ground() -> None:
    in_rules = {name for rule in _alerts() for name in _NAME.findall(rule["expr"])}
    in_dashboard = {
        name
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
        for name in _NAME.findall(target["expr"])
    }
    assert sorted(in_rules - in_dashboard) == []


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"(?m)^#{1,6}\s+(.+?)\s*$", markdown)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_alert_has_a_runbook_entry_severity_and_summary() -> None:
    anchors = _anchors(RELIABILITY.read_text())
    for rule in _alerts():
        name = rule["alert"]
        runbook = rule["annotations"].get("runbook", "")
        assert runbook == f"docs/reliability.md#{name.lower()}", name
        assert name.lower() in anchors, f"docs/reliability.md has no '{name}' heading"
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"].get("summary"), name


def test_the_dashboard_is_importable() -> None:
    dashboard = _dashboard()
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    assert dashboard["uid"]
    assert dashboard["title"]
    [variable] = dashboard["templating"]["list"]
    assert variable == {**variable, "name": "datasource", "type": "datasource"}
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]
