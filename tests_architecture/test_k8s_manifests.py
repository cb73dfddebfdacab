"""infra/k8s renders, validates against the Kubernetes and KEDA schemas offline, and fits together.

Kubernetes' schemas ship inside kubernetes-validate (strict: an unknown
field fails); KEDA's are committed under infra/k8s/tools/schemas, written
by keda_schema.py from cloudcoil-models-keda's models of KEDA's CRDs and
closed the same way. Nothing is fetched.
"""

from __future__ import annotations

import json
import shutil
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from courier_worker.celery_app import celery_config
from courier_worker.queues import QUEUES
from courier_worker.settings import Settings
from k8s_support import (
    K8S,
    TOOLS,
    Doc,
    by_key,
    container,
    env,
    render_with_kubectl,
    render_without_kubectl,
    rendered,
)

#: The oldest and the newest minor versions whose schemas are checked.
KUBERNETES_VERSIONS = ("1.30", "1.37")
KEDA_SCHEMAS = TOOLS / "schemas" / "keda.sh"
KEDA_KINDS = ("ScaledObject", "TriggerAuthentication")
WORKERS = {queue.name.rsplit(".", 1)[-1]: queue.name for queue in QUEUES}  # critical, bulk
#: Time for Celery to ack the last message and close its connection after a handler ends.
SHUTDOWN_MARGIN_SECONDS = 30


@cache
def _keda_validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((KEDA_SCHEMAS / f"{kind.lower()}_v1alpha1.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def schema_errors(doc: Doc, version: str) -> list[str]:
    """What the schema of ``doc``'s kind finds wrong with it (KEDA's or Kubernetes')."""
    if doc["kind"] in KEDA_KINDS and doc["apiVersion"] == "keda.sh/v1alpha1":
        found = _keda_validator(doc["kind"]).iter_errors(doc)
        return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in found]
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [error.message]
    return []


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_the_fallback_renders_what_kubectl_renders() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the fallback rendering is the only one here")
    assert by_key(render_without_kubectl()) == by_key(render_with_kubectl(kubectl))


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_manifest_matches_its_schema(version: str) -> None:
    docs = rendered()
    assert {doc["kind"] for doc in docs} >= {"Deployment", "ScaledObject", "NetworkPolicy"}
    errors = {key: schema_errors(doc, version) for key, doc in by_key(docs).items()}
    assert not {key: found for key, found in errors.items() if found}


@pytest.mark.parametrize(
    ("key", "change", "expected"),
    [
        ("Deployment/courier-web", ("spec", "replicas", "two"), "is not of type 'integer'"),
        ("Deployment/courier-web", ("spec", "replica", 2), "'replica' was unexpected"),
        ("ScaledObject/courier-worker-bulk", ("spec", "minReplicas", 1), "'minReplicas' was"),
        ("TriggerAuthentication/courier-rabbitmq-management", ("spec", "secret", []), "'secret'"),
    ],
    ids=["wrong type", "unknown field", "misspelt KEDA field", "unknown KEDA field"],
)
def test_the_schemas_catch_a_wrong_field(
    key: str, change: tuple[str, str, Any], expected: str
) -> None:
    doc = by_key(rendered())[key]
    section, field, value = change
    doc[section][field] = value
    assert any(expected in error for error in schema_errors(doc, KUBERNETES_VERSIONS[-1]))


def test_keda_trigger_metadata_values_are_strings() -> None:
    doc = by_key(rendered())["ScaledObject/courier-worker-critical"]
    doc["spec"]["triggers"][0]["metadata"]["value"] = 200
    assert schema_errors(doc, KUBERNETES_VERSIONS[-1])


@pytest.mark.parametrize("name", ["courier-web", "courier-relay"])
def test_web_and_relay_survive_a_node_drain(name: str) -> None:
    docs = by_key(rendered())
    deployment, budget = docs[f"Deployment/{name}"], docs[f"PodDisruptionBudget/{name}"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert deployment["spec"]["replicas"] - budget["spec"]["maxUnavailable"] >= 1
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {constraint["topologyKey"] for constraint in spread} == {"kubernetes.io/hostname"}


@pytest.mark.parametrize(("component", "queue"), sorted(WORKERS.items()))
def test_each_queue_has_its_own_worker_deployment(component: str, queue: str) -> None:
    worker = container(rendered(), f"courier-worker-{component}")
    assert worker["command"] == ["start-worker"]
    assert "args" not in worker  # the queue comes from WORKER_QUEUES, checked at start
    selected = Settings(WORKER_QUEUES=env(worker)["WORKER_QUEUES"]).WORKER_QUEUES
    assert selected == (queue,)


def test_the_worker_deployments_differ_only_in_their_queue() -> None:
    docs = by_key(rendered())
    critical, bulk = (docs[f"Deployment/courier-worker-{name}"] for name in ("critical", "bulk"))
    text = yaml.safe_dump(critical).replace("critical", "bulk")
    assert yaml.safe_load(text) == bulk


@pytest.mark.parametrize("component", sorted(WORKERS))
def test_keda_owns_the_worker_replica_count(component: str) -> None:
    docs = by_key(rendered())
    deployment = docs[f"Deployment/courier-worker-{component}"]
    scaled = docs[f"ScaledObject/courier-worker-{component}"]
    assert "replicas" not in deployment["spec"], "kubectl apply would reset KEDA's count"
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == WORKERS[component]


@pytest.mark.parametrize("component", sorted(WORKERS))
def test_keda_sees_the_messages_workers_hold(component: str) -> None:
    docs = by_key(rendered())
    metadata = docs[f"ScaledObject/courier-worker-{component}"]["spec"]["triggers"][0]["metadata"]
    assert metadata["protocol"] == "http", "over AMQP KEDA counts only ready messages"
    assert metadata.get("excludeUnacknowledged", "false") == "false"
    worker_env = env(container(list(docs.values()), f"courier-worker-{component}"))
    held = int(worker_env["WORKER_CONCURRENCY"]) * int(worker_env["WORKER_PREFETCH"])
    assert float(metadata["value"]) > held, "each pod's own prefetch would ask for more pods"


@pytest.mark.parametrize("component", sorted(WORKERS))
def test_a_removed_worker_has_time_to_finish_its_longest_handler(component: str) -> None:
    deployment = by_key(rendered())[f"Deployment/courier-worker-{component}"]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    longest = celery_config(Settings())["task_time_limit"]
    assert grace >= longest + SHUTDOWN_MARGIN_SECONDS


def test_web_is_ready_only_when_its_dependencies_answer() -> None:
    web = container(rendered(), "courier-web")
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("component", sorted(WORKERS))
def test_worker_liveness_uses_its_heartbeat_check(component: str) -> None:
    worker = container(rendered(), f"courier-worker-{component}")
    assert worker["livenessProbe"]["exec"]["command"] == ["courier-worker", "healthcheck"]


def test_relay_runs_from_the_web_image() -> None:
    docs = rendered()
    assert container(docs, "courier-relay")["image"] == container(docs, "courier-web")["image"]
    assert container(docs, "courier-relay")["command"] == ["start-relay"]


def test_every_container_has_a_memory_limit() -> None:
    for doc in rendered():
        for item in doc["spec"].get("template", {}).get("spec", {}).get("containers", []):
            limit = item.get("resources", {}).get("limits", {}).get("memory")
            assert limit, f"{doc['metadata']['name']}/{item['name']} has no memory limit"
