"""infra/k8s rendered as `kubectl apply -k` would apply it, for the manifest tests.

With kubectl on the PATH (its built-in kustomize), the rendering is
kubectl's own. Without it, a fallback applies the only transformations
this kustomization uses (namespace, resources, images) and refuses any
other; a test checks that the two agree wherever kubectl exists.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "infra" / "k8s"
TOOLS = K8S / "tools"
FALLBACK_KEYS = {"apiVersion", "kind", "namespace", "resources", "images"}

Doc = dict[str, Any]


def render_with_kubectl(kubectl: str, directory: Path = K8S) -> list[Doc]:
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_without_kubectl(directory: Path = K8S) -> list[Doc]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - FALLBACK_KEYS
    if unknown:
        raise RuntimeError(
            f"kustomization.yaml uses {', '.join(sorted(unknown))}, which only kubectl "
            "kustomize renders: install kubectl"
        )
    images = {image["name"]: image for image in kustomization.get("images", [])}
    docs = []
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((directory / resource).read_text()):
            if doc:
                if "namespace" in kustomization:
                    doc["metadata"]["namespace"] = kustomization["namespace"]
                _retag(doc, images)
                docs.append(doc)
    return docs


def _retag(node: Any, images: dict[str, dict[str, str]]) -> None:
    if isinstance(node, list):
        for item in node:
            _retag(item, images)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    container["image"] = _new_image(container["image"], images)
            else:
                _retag(value, images)


def _new_image(image: str, images: dict[str, dict[str, str]]) -> str:
    name, _, tag = image.partition(":")
    override = images.get(name)
    if override is None:
        return image
    new_tag = override.get("newTag", tag)
    return f"{override.get('newName', name)}{':' + new_tag if new_tag else ''}"


@cache
def _rendered() -> tuple[Doc, ...]:
    kubectl = shutil.which("kubectl")
    return tuple(render_with_kubectl(kubectl) if kubectl else render_without_kubectl())


def rendered() -> list[Doc]:
    """A fresh copy of every rendered document (tests may change theirs)."""
    return copy.deepcopy(list(_rendered()))


def by_key(docs: list[Doc]) -> dict[str, Doc]:
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in docs}


def container(docs: list[Doc], deployment: str) -> Doc:
    (found,) = by_key(docs)[f"Deployment/{deployment}"]["spec"]["template"]["spec"]["containers"]
    return dict(found)


def env(container: Doc) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}
