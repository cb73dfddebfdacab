"""The Kubernetes manifests parse, list every file, and probe what the services offer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parent.parent / "infra" / "k8s"


def _documents() -> dict[str, dict[str, Any]]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            docs[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return docs


def _container(name: str) -> dict[str, Any]:
    deployment = _documents()[f"Deployment/{name}"]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


@pytest.mark.parametrize("name", ["courier-web", "courier-relay", "courier-worker"])
def test_deployments_run_non_root_with_memory_limits(name: str) -> None:
    deployment = _documents()[f"Deployment/{name}"]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert _container(name)["resources"]["limits"]["memory"]


def test_web_is_ready_only_when_its_dependencies_answer() -> None:
    web = _container("courier-web")
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_worker_liveness_uses_its_heartbeat_check() -> None:
    assert _container("courier-worker")["livenessProbe"]["exec"]["command"] == [
        "courier-worker",
        "healthcheck",
    ]


def test_relay_runs_from_the_web_image() -> None:
    assert _container("courier-relay")["image"] == _container("courier-web")["image"]
    assert _container("courier-relay")["command"] == ["start-relay"]
