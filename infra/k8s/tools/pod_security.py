"""Check pod templates against the Kubernetes "restricted" Pod Security Standard, offline.

The controls are those of the standard's baseline and restricted levels
(kubernetes.io/docs/concepts/security/pod-security-standards, as enforced by
the pod-security admission in `pod-security.kubernetes.io/enforce: restricted`
namespaces), plus one of ours: every container's root filesystem is
read-only. Run it on any rendering, e.g. an overlay of your own:

    kubectl kustomize infra/k8s | python infra/k8s/tools/pod_security.py
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import yaml

RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
CONFINED = {"RuntimeDefault", "Localhost"}
POD_TEMPLATE_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec a workload manifest runs, or None for other kinds."""
    path = POD_TEMPLATE_PATHS.get(doc.get("kind", ""))
    if path is None:
        return None
    node: Any = doc
    for key in path:
        node = node[key]
    return node if isinstance(node, dict) else None


def _pod_annotations(doc: dict[str, Any]) -> dict[str, str]:
    node: Any = doc
    for key in POD_TEMPLATE_PATHS[doc["kind"]][:-1]:  # the template holding the pod spec
        node = node[key]
    annotations: dict[str, str] = (node.get("metadata") or {}).get("annotations") or {}
    return annotations


def containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def violations(doc: dict[str, Any]) -> list[str]:
    """Every control of the restricted standard (and read-only root) that ``doc`` breaks."""
    spec = pod_spec(doc)
    if spec is None:
        return []
    name = f"{doc['kind']}/{doc.get('metadata', {}).get('name', '?')}"
    return [f"{name}: {problem}" for problem in _pod_problems(spec, doc)]


def _pod_problems(spec: dict[str, Any], doc: dict[str, Any]) -> Iterator[str]:
    pod_ctx = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"{field} is set"
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            yield f"volume {volume['name']!r} is of type {', '.join(sorted(kinds))}"
    for sysctl in pod_ctx.get("sysctls") or []:
        if sysctl["name"] not in SAFE_SYSCTLS:
            yield f"sysctl {sysctl['name']} is not in the safe set"
    yield from _context_problems("pod", pod_ctx)
    for key, value in _pod_annotations(doc).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and value == (
            "unconfined"
        ):
            yield f"AppArmor annotation {key} is unconfined"
    for container in containers(spec):
        yield from _container_problems(container, pod_ctx)


def _context_problems(where: str, ctx: dict[str, Any]) -> Iterator[str]:
    """Controls that apply alike to the pod's and to each container's securityContext."""
    if (ctx.get("windowsOptions") or {}).get("hostProcess"):
        yield f"{where}: windowsOptions.hostProcess is set"
    if ctx.get("runAsUser") == 0:
        yield f"{where}: runAsUser is 0"
    if ctx.get("runAsNonRoot") is False:
        yield f"{where}: runAsNonRoot is false"
    selinux = ctx.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        yield f"{where}: seLinuxOptions are not restricted"
    for field in ("seccompProfile", "appArmorProfile"):
        kind = (ctx.get(field) or {}).get("type")
        if kind is not None and kind not in CONFINED:
            yield f"{where}: {field}.type is {kind}"


def _container_problems(container: dict[str, Any], pod_ctx: dict[str, Any]) -> Iterator[str]:
    where = f"container {container['name']!r}"
    ctx = container.get("securityContext") or {}
    yield from _context_problems(where, ctx)
    if ctx.get("privileged"):
        yield f"{where}: privileged"
    if ctx.get("procMount", "Default") != "Default":
        yield f"{where}: procMount is {ctx['procMount']}"
    if ctx.get("allowPrivilegeEscalation") is not False:
        yield f"{where}: allowPrivilegeEscalation is not false"
    if not (ctx.get("runAsNonRoot") or pod_ctx.get("runAsNonRoot")):
        yield f"{where}: runAsNonRoot is not true (here or on the pod)"
    seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
    if seccomp not in CONFINED:
        yield f"{where}: no RuntimeDefault or Localhost seccompProfile (here or on the pod)"
    capabilities = ctx.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        yield f"{where}: capabilities do not drop ALL"
    added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
    if added:
        yield f"{where}: adds capabilities {', '.join(sorted(added))}"
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            yield f"{where}: hostPort {port['hostPort']}"
    if ctx.get("readOnlyRootFilesystem") is not True:
        yield f"{where}: readOnlyRootFilesystem is not true"


def main() -> int:
    docs = [doc for doc in yaml.safe_load_all(sys.stdin) if doc]
    problems = [problem for doc in docs for problem in violations(doc)]
    for problem in problems:
        print(problem)
    checked = sum(1 for doc in docs if pod_spec(doc) is not None)
    print(f"{checked} pod templates checked, {len(problems)} violation(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
