"""Write the JSON Schemas of KEDA's ScaledObject and TriggerAuthentication for offline validation.

They come from cloudcoil-models-keda (PyPI; pydantic models generated from
KEDA's CRDs), closed like kubeconform's strict schemas: an object that
lists its properties admits no other, so a misspelt field fails. The
package is not a dependency of the project (it installs a pytest plugin
into every suite): run this in a throwaway environment, and commit what it
writes under ``schemas/``:

    uv run --no-project --with cloudcoil-models-keda==2.16.1.0 --with filelock \\
        python infra/k8s/tools/keda_schema.py
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

PACKAGE = "cloudcoil-models-keda"
KINDS = ("ScaledObject", "TriggerAuthentication")
OUT = Path(__file__).resolve().parent / "schemas" / "keda.sh"


def closed(node: Any) -> Any:
    """``node`` with every object that lists its properties closed to any other."""
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: closed(value) for key, value in node.items()}
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def main() -> int:
    models = importlib.import_module("cloudcoil.models.keda.v1alpha1")
    version = importlib.metadata.version(PACKAGE)
    OUT.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        schema = closed(getattr(models, kind).model_json_schema(by_alias=True))
        schema["$comment"] = f"Written by infra/k8s/tools/keda_schema.py from {PACKAGE}=={version}"
        target = OUT / f"{kind.lower()}_v1alpha1.json"
        target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
