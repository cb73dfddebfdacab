import copy
import json
from typing import Any

from shared_contracts import schema_export


def test_committed_schemas_match_the_models() -> None:
    stale = [
        event_type
        for event_type, schema in schema_export.generate(packaged_only=True).items()
        if schema_export.committed().get(event_type) != schema
    ]
    assert not stale, f"schemas drifted from the models for {stale}: run `make schemas`"
    assert set(schema_export.committed()) == set(schema_export.generate(packaged_only=True))


def test_check_mode_passes_on_the_committed_tree() -> None:
    assert schema_export.main(["--check"]) == 0


def _registered_schema() -> dict[str, Any]:
    return copy.deepcopy(schema_export.generate()["user.registered.v1"])


def _payload(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema["properties"]["payload"]["$ref"].removeprefix("#/$defs/")
    payload: dict[str, Any] = schema["$defs"][ref]
    return payload


def test_a_new_optional_field_is_compatible() -> None:
    old, new = _registered_schema(), _registered_schema()
    _payload(new)["properties"]["locale"] = {"type": "string", "default": "en"}

    assert schema_export.incompatibilities(old, new) == []


def test_removed_retyped_and_newly_required_fields_are_breaking() -> None:
    old, new = _registered_schema(), _registered_schema()
    payload = _payload(new)
    del payload["properties"]["display_name"]
    payload["properties"]["user_id"] = {"type": "string"}
    payload["properties"]["locale"] = {"type": "string"}
    payload["required"].append("locale")

    problems = schema_export.incompatibilities(old, new)

    assert "payload.display_name was removed" in problems
    assert "payload.user_id changed its type or constraints" in problems
    assert "payload.locale became required" in problems


def test_write_refuses_an_incompatible_change(tmp_path: Any, monkeypatch: Any) -> None:
    for event_type, schema in schema_export.generate(packaged_only=True).items():
        if event_type == "user.registered.v1":
            schema = copy.deepcopy(schema)
            _payload(schema)["properties"]["legacy"] = {"type": "string"}
        (tmp_path / f"{event_type}.json").write_text(json.dumps(schema))
    monkeypatch.setattr(schema_export, "SCHEMA_DIR", tmp_path)

    assert schema_export.main(["--write"]) == 1
    assert schema_export.main(["--check"]) == 1
