"""Every pod infra/k8s runs meets the "restricted" Pod Security Standard on a read-only root.

The checker is ``infra/k8s/tools/pod_security.py``; the tests below also
show it failing on each kind of break. The writable paths come from the
images and start scripts (infra/docker): each was run with a read-only
root filesystem and only these paths writable (README.md says how).
"""

from __future__ import annotations

from typing import Any

import pytest
from k8s_support import Doc, by_key, rendered
from pod_security import containers, pod_spec, violations

TMP, SHM, WORKER_VAR = "/tmp", "/dev/shm", "/app/var"  # noqa: S108 (paths in a pod, not files here)
#: What each process writes, by its command (None: the image's default, start-web).
WRITABLE_PATHS = {
    # gunicorn's worker heartbeats and the Prometheus multiprocess files
    # (start-web); uploads and gunicorn's control socket (XDG_RUNTIME_DIR).
    None: {TMP, SHM},
    ("start-relay",): {TMP},
    ("start-consumer",): {TMP},
    ("courier-web", "migrate", "--noinput"): {TMP},
    # COURIER_WORKER_HOME/var: heartbeat file, metrics files; the pool's semaphores.
    ("start-worker",): {TMP, WORKER_VAR, SHM},
    # Its heartbeat file; no schedule file (courier_worker.beat keeps no state).
    ("start-beat",): {TMP, WORKER_VAR},
    # Flower keeps what it sees in memory (no --persistent).
    (
        "celery",
        "-A",
        "courier_worker.celery_app:app",
        "flower",
        "--port=5555",
        "--address=0.0.0.0",
    ): {TMP},
    ("bash", "-c", "courier-worker init-db && exec courier-worker declare-topology"): {
        TMP,
        WORKER_VAR,
    },
}


def _workloads() -> list[Doc]:
    return [doc for doc in rendered() if pod_spec(doc) is not None]


def test_every_workload_is_checked() -> None:
    kinds = sorted(doc["kind"] for doc in _workloads())
    assert kinds == ["Deployment"] * 7 + ["Job"]


@pytest.mark.parametrize("doc", _workloads(), ids=lambda doc: doc["metadata"]["name"])
def test_meets_the_restricted_standard_with_a_read_only_root(doc: Doc) -> None:
    assert violations(doc) == []


@pytest.mark.parametrize("doc", _workloads(), ids=lambda doc: doc["metadata"]["name"])
def test_what_each_container_writes_is_mounted(doc: Doc) -> None:
    spec = pod_spec(doc)
    assert spec is not None
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    for item in containers(spec):
        command = tuple(item["command"]) if "command" in item else None
        mounted = {m["mountPath"]: volumes[m["name"]] for m in item.get("volumeMounts", [])}
        assert set(mounted) >= WRITABLE_PATHS[command], item["name"]
        for path in WRITABLE_PATHS[command]:
            assert "emptyDir" in mounted[path], f"{item['name']}: {path} is not an emptyDir"
            assert mounted[path]["emptyDir"].get("sizeLimit"), f"{path} is unbounded"


def _first_container(doc: Doc) -> dict[str, Any]:
    spec = pod_spec(doc)
    assert spec is not None
    container: dict[str, Any] = spec["containers"][0]
    return container


def _break(doc: Doc, how: str) -> None:
    spec = pod_spec(doc)
    assert spec is not None
    ctx = _first_container(doc)["securityContext"]
    if how == "escalation":
        del ctx["allowPrivilegeEscalation"]
    elif how == "capabilities":
        ctx["capabilities"] = {"drop": ["NET_RAW"]}
    elif how == "added capability":
        ctx["capabilities"]["add"] = ["SYS_ADMIN"]
    elif how == "seccomp":
        del spec["securityContext"]["seccompProfile"]
    elif how == "unconfined":
        ctx["seccompProfile"] = {"type": "Unconfined"}
    elif how == "root":
        ctx["runAsUser"] = 0
    elif how == "non-root":
        del spec["securityContext"]["runAsNonRoot"]
    elif how == "privileged":
        ctx["privileged"] = True
    elif how == "host network":
        spec["hostNetwork"] = True
    elif how == "hostPath":
        spec["volumes"].append({"name": "host", "hostPath": {"path": "/var/run"}})
    elif how == "hostPort":
        _first_container(doc).setdefault("ports", []).append({"containerPort": 1, "hostPort": 1})
    elif how == "writable root":
        ctx["readOnlyRootFilesystem"] = False


BREAKS = [
    ("escalation", "allowPrivilegeEscalation"),
    ("capabilities", "do not drop ALL"),
    ("added capability", "SYS_ADMIN"),
    ("seccomp", "seccompProfile"),
    ("unconfined", "Unconfined"),
    ("root", "runAsUser is 0"),
    ("non-root", "runAsNonRoot is not true"),
    ("privileged", "privileged"),
    ("host network", "hostNetwork"),
    ("hostPath", "hostPath"),
    ("hostPort", "hostPort"),
    ("writable root", "readOnlyRootFilesystem"),
]


@pytest.mark.parametrize(("how", "expected"), BREAKS, ids=[how for how, _ in BREAKS])
def test_the_checker_sees_each_break(how: str, expected: str) -> None:
    doc = by_key(rendered())["Deployment/courier-web"]
    _break(doc, how)
    assert any(expected in problem for problem in violations(doc)), violations(doc)
