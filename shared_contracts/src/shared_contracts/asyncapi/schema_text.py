"""JSON Schema, told in words: the type, constraints and rows of a field table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["Resolver", "cell", "constraints", "field_rows", "type_text"]

_CONSTRAINTS = (
    ("minLength", "length >= {}"),
    ("maxLength", "length <= {}"),
    ("pattern", "matches `{}`"),
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minItems", "items >= {}"),
    ("maxItems", "items <= {}"),
)


class Resolver:
    """Follows ``#/components/schemas/...`` references of one document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.schemas: Mapping[str, Any] = document["components"]["schemas"]

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            resolved: Mapping[str, Any] = self.schemas[ref.rsplit("/", 1)[-1]]
            return resolved
        return schema


def cell(text: str) -> str:
    """``text`` made safe for one Markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())


def _json(value: Any) -> str:
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def type_text(schema: Mapping[str, Any], resolver: Resolver) -> str:
    """``string``, ``integer or null``, ``array of string``, ``object``..."""
    if "$ref" in schema:
        return type_text(resolver.resolve(schema), resolver)
    if "const" in schema:
        return _json(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(_json(value) for value in schema["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " or ".join(type_text(option, resolver) for option in schema[combinator])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"array of {type_text(schema['items'], resolver)}"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def constraints(schema: Mapping[str, Any], resolver: Resolver) -> list[str]:
    """The schema's constraints in words, its options' and items' included."""
    schema = resolver.resolve(schema)
    found = [text.format(schema[key]) for key, text in _CONSTRAINTS if key in schema]
    for combinator in ("anyOf", "oneOf"):
        for option in schema.get(combinator, ()):
            found += constraints(option, resolver)
    items = schema.get("items")
    if isinstance(items, Mapping):
        found += [f"each {text}" for text in constraints(items, resolver)]
    if "default" in schema:
        found.append(f"default {_json(schema['default'])}")
    return found


def field_rows(schema: Mapping[str, Any], resolver: Resolver) -> list[str]:
    """A Markdown table of an object schema's properties: name, type, required, rules, meaning."""
    schema = resolver.resolve(schema)
    required = set(schema.get("required", ()))
    rows = [
        "| field | type | required | constraints | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, spec in schema.get("properties", {}).items():
        rows.append(
            "| "
            + " | ".join(
                [
                    f"`{name}`",
                    cell(type_text(spec, resolver)),
                    "yes" if name in required else "no",
                    cell("; ".join(constraints(spec, resolver))),
                    cell(
                        str(resolver.resolve(spec).get("description", spec.get("description", "")))
                    ),
                ]
            )
            + " |"
        )
    return rows
