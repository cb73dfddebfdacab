"""Each Courier pod may open only the connections its service uses, and accept only its own port.

NetworkPolicies add up, so what a pod may do is the union of every policy
that selects it: these tests compute that union from the rendered policies.
"""

from __future__ import annotations

import pytest
from k8s_support import Doc, by_key, rendered

DNS = {("UDP", 53), ("TCP", 53)}
POSTGRES, RABBITMQ, REDIS = {("TCP", 5432)}, {("TCP", 5672), ("TCP", 5671)}, {("TCP", 6379)}
SMTP, STORAGE = {("TCP", 587), ("TCP", 465)}, {("TCP", 443)}

#: What each workload uses (DESIGN.md), by the Deployment or Job that runs it.
EXPECTED_EGRESS = {
    "Deployment/courier-web": DNS | POSTGRES | RABBITMQ | REDIS | STORAGE,
    "Deployment/courier-relay": DNS | POSTGRES | RABBITMQ,
    "Deployment/courier-worker-critical": DNS | POSTGRES | RABBITMQ | SMTP | STORAGE,
    "Deployment/courier-worker-bulk": DNS | POSTGRES | RABBITMQ | SMTP | STORAGE,
    "Job/courier-migrate": DNS | POSTGRES | RABBITMQ,
    "Deployment/courier-beat": DNS | RABBITMQ,
    "Deployment/courier-flower": DNS | RABBITMQ,
}
EXPECTED_INGRESS = {
    "Deployment/courier-web": {("TCP", 8000)},
    "Deployment/courier-relay": set(),
    "Deployment/courier-worker-critical": {("TCP", 9808)},
    "Deployment/courier-worker-bulk": {("TCP", 9808)},
    "Job/courier-migrate": set(),
    "Deployment/courier-beat": set(),
    "Deployment/courier-flower": {("TCP", 5555)},
}


def _pod_labels(doc: Doc) -> dict[str, str]:
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels


def _policies_for(labels: dict[str, str], docs: list[Doc]) -> list[Doc]:
    return [
        doc
        for doc in docs
        if doc["kind"] == "NetworkPolicy"
        and doc["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
    ]


def _denies_all(doc: Doc) -> bool:
    spec = doc["spec"]
    return doc["kind"] == "NetworkPolicy" and not spec.get("ingress") and not spec.get("egress")


def _allowed(policies: list[Doc], direction: str) -> set[tuple[str, int]]:
    allowed = set()
    for policy in policies:
        for rule in policy["spec"].get(direction, []):
            name = policy["metadata"]["name"]
            assert rule.get("ports"), f"{name}: a {direction} rule with no ports opens every port"
            allowed |= {(port.get("protocol", "TCP"), port["port"]) for port in rule["ports"]}
    return allowed


@pytest.mark.parametrize("workload", sorted(EXPECTED_EGRESS))
def test_each_workload_reaches_only_what_it_uses(workload: str) -> None:
    docs = rendered()
    policies = _policies_for(_pod_labels(by_key(docs)[workload]), docs)
    assert all(set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in policies)
    assert _allowed(policies, "egress") == EXPECTED_EGRESS[workload]
    assert _allowed(policies, "ingress") == EXPECTED_INGRESS[workload]


def test_every_courier_pod_starts_from_deny_all() -> None:
    docs = rendered()
    (deny,) = [doc for doc in docs if _denies_all(doc)]
    for key, doc in by_key(docs).items():
        if key in EXPECTED_EGRESS:
            assert deny in _policies_for(_pod_labels(doc), docs), key


def test_dns_is_allowed_to_the_cluster_dns_only() -> None:
    for doc in rendered():
        for rule in doc["spec"].get("egress", []) if doc["kind"] == "NetworkPolicy" else []:
            if any(port["port"] == 53 for port in rule["ports"]):
                (peer,) = rule["to"]
                assert peer["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_the_checker_sees_a_port_too_many() -> None:
    docs = rendered()
    web_policy = by_key(docs)["NetworkPolicy/courier-web"]
    web_policy["spec"]["egress"][1]["ports"].append({"protocol": "TCP", "port": 25})
    policies = _policies_for(_pod_labels(by_key(docs)["Deployment/courier-web"]), docs)
    assert _allowed(policies, "egress") != EXPECTED_EGRESS["Deployment/courier-web"]
