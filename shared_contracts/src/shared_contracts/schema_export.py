"""Generate, check and compare the committed JSON Schemas of every contract.

``python -m shared_contracts.schema_export --write`` (``make schemas``)
rewrites them; ``--check`` fails on drift. A change that would break a
consumer of the committed schema is refused: it needs a new ``.vN`` type.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from shared_contracts.envelope import Envelope
from shared_contracts.registry import EVENT_TYPES

SCHEMA_DIR = Path(__file__).parent / "schemas"


def generate(*, packaged_only: bool = False) -> dict[str, dict[str, Any]]:
    """The JSON Schema of each registered event's envelope, by event type.

    With ``packaged_only``, only the contracts of this package's ``events/``
    (the ones whose schemas are committed), not those a test module defines.
    """
    schemas = {}
    for event_type, model in sorted(EVENT_TYPES.items()):
        if packaged_only and not model.__module__.startswith(_PACKAGED):
            continue
        schema = Envelope[model].model_json_schema(mode="validation")  # type: ignore[valid-type]
        schema["title"] = event_type
        schema["x-schema-version"] = model.schema_version
        schemas[event_type] = schema
    return schemas


_PACKAGED = "shared_contracts.events."


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def committed() -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text())
        for path in sorted(SCHEMA_DIR.glob("*.json"))
    }


def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why a consumer built on ``old`` would refuse or misread messages valid under ``new``.

    Allowed: new optional fields, and anything that leaves existing fields as
    they were. Refused: removed or retyped fields, and newly required ones.
    """
    problems = []
    for where, old_obj, new_obj in _objects(old, new):
        old_props, new_props = old_obj.get("properties", {}), new_obj.get("properties", {})
        for name, spec in old_props.items():
            if where == "envelope" and name == "payload":
                continue  # compared field by field as its own object below
            if name not in new_props:
                problems.append(f"{where}.{name} was removed")
            elif _strip_docs(_resolve(new, new_props[name])) != _strip_docs(_resolve(old, spec)):
                problems.append(f"{where}.{name} changed its type or constraints")
        for name in set(new_obj.get("required", ())) - set(old_obj.get("required", ())):
            problems.append(f"{where}.{name} became required")
    return problems


def _objects(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    yield "envelope", old, new
    old_payload = _resolve(old, old.get("properties", {}).get("payload", {}))
    new_payload = _resolve(new, new.get("properties", {}).get("payload", {}))
    yield "payload", old_payload, new_payload


def _resolve(root: Mapping[str, Any], spec: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = root.get("$defs", {})[ref.removeprefix("#/$defs/")]
        return resolved
    return spec


def _strip_docs(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k not in {"title", "description", "examples"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared_contracts.schema_export")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the committed schemas")
    mode.add_argument("--check", action="store_true", help="fail when they drift")
    args = parser.parse_args(argv)

    fresh, stored = generate(packaged_only=True), committed()
    breaking = {
        event_type: problems
        for event_type, schema in fresh.items()
        if event_type in stored and (problems := incompatibilities(stored[event_type], schema))
    }
    for event_type, problems in breaking.items():
        print(f"{event_type}: incompatible change, publish it as a new .vN type instead:")
        for problem in problems:
            print(f"  - {problem}")
    if breaking:
        return 1

    stale = sorted(t for t in fresh.keys() | stored.keys() if fresh.get(t) != stored.get(t))
    if args.check:
        for event_type in stale:
            print(f"{event_type}: committed schema differs from the model; run `make schemas`")
        return 1 if stale else 0

    SCHEMA_DIR.mkdir(exist_ok=True)
    for event_type in stale:
        path = SCHEMA_DIR / f"{event_type}.json"
        if event_type in fresh:
            path.write_text(render(fresh[event_type]))
            print(f"wrote {path.name}")
        else:
            path.unlink()
            print(f"removed {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
