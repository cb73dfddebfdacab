"""Smoke test of ``make bench``: every section starts, runs and reports, at tiny sizes.

One ``python -m bench --smoke`` run (a few dozen messages, windows of
~0.2 s; the local RabbitMQ and PostgreSQL) for the whole module; each test
checks one part of what it wrote and printed: the keys of ``latest.json``,
the table's sections, where the time went, and that it left nothing behind.
Never the figures themselves: at these sizes they mean nothing.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.paths import PYTHON
from bench.tests.support import bench_databases, bench_vhosts, run_tool

SECTIONS = ("publish", "consume", "latency", "isolation", "http", "scaling")
#: The top-level keys of ``latest.json`` and, per figure, the keys it must have.
FIGURES = {
    "publish": {
        "courier_eps",
        "raw_pika_eps",
        "celery_confirmed_eps",
        "ratio",
        "raw_pika_windowed_eps",
        "raw_pika_sync_eps",
        "courier_vs_celery",
    },
    "consume": {"courier_eps", "celery_noop_eps", "kombu_raw_eps", "ratio_vs_celery"},
    "http": {
        "events_on_rps",
        "events_off_rps",
        "ratio",
        "events_on_relay_paused_rps",
        "ratio_relay_paused",
    },
    "middleware": {"full_rps", "bare_rps", "ratio"},
    "memory_mb": {"worker_main_process", "worker_process", "web_process", "web_master_process"},
}
TABLE_SECTIONS = (
    "publish (msg/s until every message is confirmed)",
    "consume (events/s, prefork x1)",
    "latency, commit-to-handled (HTTP response -> worker event.handled)",
    "isolation: welcome email latency, idle and under a newsletter backlog",
    "http: POST /api/users under gunicorn (1 sync worker)",
    "middleware: GET /healthz under gunicorn (1 sync worker)",
    "scaling: handler waiting 5 ms per event (events/s)",
    "memory (RSS after load, MiB)",
)


class SmokeRun:
    """What one ``--smoke`` run wrote and printed, and what the broker and database held."""

    def __init__(self, out: Path) -> None:
        self.vhosts_before, self.databases_before = bench_vhosts(), bench_databases()
        done = run_tool("bench", "--smoke", "--out", str(out))
        self.stdout = done.stdout
        self.doc: dict[str, Any] = json.loads(out.read_text())
        self.vhosts_after, self.databases_after = bench_vhosts(), bench_databases()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    return SmokeRun(tmp_path_factory.mktemp("bench") / "latest.json")


def is_rate(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.parametrize("figure", sorted(FIGURES))
def test_each_figure_has_its_keys_and_positive_values(smoke: SmokeRun, figure: str) -> None:
    entry = smoke.doc[figure]

    assert set(entry) == FIGURES[figure]
    assert all(is_rate(value) for value in entry.values()), entry


def test_latency_reports_percentiles_of_both_variants(smoke: SmokeRun) -> None:
    latency = smoke.doc["latency_ms"]

    assert set(latency) == {"offered_eps", "courier", "naive_delay", "p50_ratio"}
    for variant in ("courier", "naive_delay"):
        assert set(latency[variant]) == {"p50", "p95", "p99"}
        assert all(is_rate(ms) for ms in latency[variant].values())
    runs = smoke.doc["detail"]["latency"]["courier"]
    assert len(runs) == 1
    assert runs[0]["count"] > 0


def test_isolation_reports_both_deployments_idle_and_under_the_backlog(smoke: SmokeRun) -> None:
    isolation = smoke.doc["isolation_ms"]

    assert set(isolation) == {"shared", "separate"}
    for figures in isolation.values():
        assert set(figures) == {"idle_p50", "idle_p99", "backlog_p50", "backlog_p99", "p99_ratio"}
        assert all(is_rate(value) for value in figures.values())
    for run in smoke.doc["detail"]["isolation"].values():
        assert run["count"] > 0


def test_scaling_reports_each_prefork_size(smoke: SmokeRun) -> None:
    scaling = smoke.doc["scaling"]

    assert set(scaling) == {"io_bound_eps", "efficiency_4", "threads_eps", "io_wait_ms"}
    assert set(scaling["io_bound_eps"]) == {"1", "2", "4"}
    assert all(is_rate(eps) for eps in scaling["io_bound_eps"].values())
    assert scaling["threads_eps"] == {}  # an extra of the full run only


def test_the_run_says_what_it_ran(smoke: SmokeRun) -> None:
    doc = smoke.doc

    assert doc["quick"] is True
    assert doc["detail"]["config"]["name"] == "smoke"
    assert doc["dispatch"] == "auto"
    assert set(doc["machine"]) == {
        "cpus",
        "cpu_model",
        "python",
        "rabbitmq",
        "postgresql",
        "kernel",
    }
    assert doc["duration_s"] > 0


def test_where_the_time_went_covers_every_section(smoke: SmokeRun) -> None:
    timing = smoke.doc["timing_s"]

    assert {"total", "setup", *SECTIONS, "teardown"} <= set(timing)
    assert "measured" in timing["consume"]


def test_the_table_has_every_section_printed_and_in_markdown(smoke: SmokeRun) -> None:
    for title in TABLE_SECTIONS:
        assert f"-- {title}" in smoke.stdout
        assert f"| **{title}** |" in smoke.doc["table_markdown"]
    assert "where the time went (s): total" in smoke.stdout


def test_the_run_leaves_no_vhost_or_database_behind(smoke: SmokeRun) -> None:
    assert smoke.vhosts_after <= smoke.vhosts_before
    assert smoke.databases_after <= smoke.databases_before


def test_relay_cycle_reports_each_run() -> None:
    done = run_tool("bench.relay_cycle", "--rows", "10")

    lines = [line for line in done.stdout.splitlines() if line.startswith("run ")]
    assert len(lines) == 2
    assert all("us CPU" in line and "us wall per cycle" in line for line in lines)


def test_wsgi_overhead_reports_both_stacks(clean_env: dict[str, str]) -> None:
    done = run_tool("bench.wsgi_overhead", "--requests", "20", env=clean_env)

    labels = [line.split()[0] for line in done.stdout.splitlines()]
    assert labels == ["full", "bare", "stack"]


def test_the_bare_settings_serve_healthz_with_no_middleware(clean_env: dict[str, str]) -> None:
    code = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/healthz'); "
        "print(r.status_code, r.content.decode(), 'X-Request-ID' in r, "
        "'Content-Security-Policy' in r)"
    )
    env = {**clean_env, "DJANGO_SETTINGS_MODULE": "bench.web.settings_bare"}
    result = subprocess.run(
        [str(PYTHON), "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == ["200", '{"status":', '"ok"}', "False", "False"]
