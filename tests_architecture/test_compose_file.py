"""`infra/compose.yaml` is valid and describes the stack the suite proves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from courier_worker.queues import QUEUES
from courier_worker.settings import Settings

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "infra" / "compose.yaml"
EXPECTED_SERVICES = {
    "rabbitmq",
    "postgres",
    "redis",
    "smtp-sink",
    "web",
    "relay",
    "consumer",
    "worker-critical",
    "worker-bulk",
    "beat",
    "flower",
}
#: Nodes 2 and 3 of the optional three-node cluster (``COMPOSE_PROFILES=cluster``).
CLUSTER_PROFILE_SERVICES = {"rabbitmq-2", "rabbitmq-3"}


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def test_compose_itself_accepts_the_file() -> None:
    result = subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_stack_has_every_service(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == EXPECTED_SERVICES | CLUSTER_PROFILE_SERVICES
    always_on = {
        name for name, service in compose["services"].items() if not service.get("profiles")
    }
    assert always_on == EXPECTED_SERVICES


def test_the_cluster_profile_adds_two_nodes_that_join_the_first(compose: dict[str, Any]) -> None:
    services = compose["services"]
    cookies = {
        services[name]["environment"]["RABBITMQ_ERLANG_COOKIE"]
        for name in services
        if name.startswith("rabbitmq")
    }
    assert len(cookies) == 1  # one cluster shares one secret
    for name in CLUSTER_PROFILE_SERVICES:
        assert services[name]["profiles"] == ["cluster"]
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        # The service name every client uses resolves to the joined nodes too.
        assert "rabbitmq" in services[name]["networks"]["default"]["aliases"]


def test_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_web_and_relay_share_one_image_and_worker_is_separate(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["web"]["image"] == services["relay"]["image"]
    assert services["worker-critical"]["image"] != services["web"]["image"]
    assert services["relay"]["command"] == ["start-relay"]


def test_services_are_configured_only_through_the_environment(compose: dict[str, Any]) -> None:
    for name in ("web", "relay", "worker-critical", "worker-bulk"):
        env = compose["services"][name]["environment"]
        assert "RABBITMQ_URL" in env, name
    assert "DATABASE_URL" in compose["services"]["web"]["environment"]
    # Every web process shares one rate limit and one stats cache.
    assert compose["services"]["web"]["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "WORKER_DATABASE_URL" in compose["services"]["worker-critical"]["environment"]


def test_one_worker_per_queue(compose: dict[str, Any]) -> None:
    services = compose["services"]
    selected = {
        Settings(
            WORKER_QUEUES=services[f"worker-{spec.short_name}"]["environment"]["WORKER_QUEUES"]
        ).WORKER_QUEUES
        for spec in QUEUES
    }
    assert selected == {(spec.name,) for spec in QUEUES}
    assert services["worker-critical"]["image"] == services["worker-bulk"]["image"]
