"""Prometheus and the worker's queue exporter on the suite's network, with the shipped config.

The scrape configuration and the alerting rules are those of
``infra/observability``: the test copy only points each job at the suite's
containers, scrapes every second, and shortens the thresholds and ``for``
durations of the alerts a test waits for (``Shortened``), so that the rules
that fire are the rules that ship.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from testcontainers.core.network import Network

from .containers import ServiceContainer
from .polling import wait_until

OBSERVABILITY = Path(__file__).resolve().parents[2] / "infra" / "observability"
QUEUE_EXPORTER_PORT = 9810
#: Seconds between two queue-exporter rounds in the suite (15 in production).
QUEUE_EXPORTER_INTERVAL = 1


class QueueExporter(ServiceContainer):
    """``courier-worker queue-exporter`` from the worker image, with the worker's credentials."""

    alias = "queue-exporter"

    def __init__(self, image: str, network: Network, env: dict[str, str]) -> None:
        super().__init__(image, network)
        for key, value in env.items():
            self.with_env(key, value)
        self.with_command(
            f"courier-worker queue-exporter --port {QUEUE_EXPORTER_PORT} "
            f"--interval {QUEUE_EXPORTER_INTERVAL}"
        )
        self.publish(QUEUE_EXPORTER_PORT)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port(QUEUE_EXPORTER_PORT)}/metrics"

    def wait_ready(self) -> None:
        def measuring() -> bool:
            text = requests.get(self.metrics_url, timeout=5).text
            return "courier_queue_exporter_broker_up 1.0" in text

        wait_until(
            measuring, timeout=60, what="the queue exporter to reach the broker", interval=0.5
        )


@dataclass(frozen=True)
class Shortened:
    """An alert made quick for a test: its threshold text replaced, its ``for`` shortened."""

    threshold: str
    replacement: str
    wait: str = "3s"


def scrape_config(targets: dict[str, list[str]]) -> str:
    """The shipped ``prometheus.yml``, each job aimed at ``targets[job]``, scraping every second."""
    config: dict[str, Any] = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == set(targets), f"the shipped jobs {sorted(jobs)} are not {sorted(targets)}"
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    return yaml.safe_dump(config, sort_keys=False)


def alerting_rules(shortened: dict[str, Shortened]) -> dict[str, str]:
    """Every shipped rule file by name, the ``shortened`` alerts changed as they say."""
    files = {}
    changed = set()
    for path in sorted((OBSERVABILITY / "rules").glob("*.yml")):
        document: dict[str, Any] = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                change = shortened.get(rule.get("alert", ""))
                if change is None:
                    continue
                pattern = re.escape(change.threshold) + r"(?![0-9.])"
                rule["expr"], count = re.subn(pattern, change.replacement, rule["expr"])
                assert count == 1, f"{rule['alert']}: {change.threshold!r} not in {rule['expr']!r}"
                rule["for"] = change.wait
                changed.add(rule["alert"])
        files[path.name] = yaml.safe_dump(document, sort_keys=False)
    assert changed == set(shortened), f"no such alerts: {set(shortened) - changed}"
    return files


class Prometheus(ServiceContainer):
    """A Prometheus server on the suite's network; its HTTP API is published on loopback."""

    alias = "prometheus"

    def __init__(self, image: str, network: Network, *, config: str, rules: dict[str, str]) -> None:
        super().__init__(image, network)
        self.with_copy_into_container(config.encode(), "/etc/prometheus/prometheus.yml")
        for name, text in rules.items():
            self.with_copy_into_container(text.encode(), f"/etc/prometheus/rules/{name}")
        # The flags of both the official image and courier/prometheus:offline.
        self.with_command(
            "--config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus "
            "--web.listen-address=:9090"
        )
        self.publish(9090)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port(9090)}"

    def wait_ready(self) -> None:
        wait_until(
            lambda: requests.get(f"{self.base_url}/-/ready", timeout=5).status_code == 200,
            timeout=60,
            what="Prometheus to be ready",
            interval=0.5,
        )

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        response = requests.get(f"{self.base_url}/api/v1/{path}{query}", timeout=10)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self.api("targets", state="active")["activeTargets"]
        return targets

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """The alerts named ``name`` that are pending or firing now."""
        return [
            alert for alert in self.api("alerts")["alerts"] if alert["labels"]["alertname"] == name
        ]

    def firing(self, name: str) -> list[dict[str, Any]]:
        return [alert for alert in self.alerts(name) if alert["state"] == "firing"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def metric_names(self) -> set[str]:
        """Every series name scraped so far, and every family the targets described (HELP/TYPE)."""
        names = set(self.api("label/__name__/values"))
        for family, entries in self.api("metadata").items():
            names.add(family)
            kinds = {entry["type"] for entry in entries}
            if "counter" in kinds and not family.endswith("_total"):
                names.add(f"{family}_total")
            if "histogram" in kinds:
                names.update(f"{family}_{suffix}" for suffix in ("bucket", "sum", "count"))
        return names
