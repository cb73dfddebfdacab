"""``NoNul``: a string that PostgreSQL can store, refused with a clear 422 and stated in the schema.

PostgreSQL text cannot hold NUL (0x00): without this a NUL in a field would
be a 500 from the database. The check answers "must not contain NUL
characters" for the field, and the field's JSON Schema says it in advance
(``pattern``), so that a client following the schema never sends one::

    email: Annotated[str, Field(max_length=254), NoNul]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["NO_NUL_PATTERN", "NoNul"]

#: Any text without NUL; the same in JSON Schema (ECMA 262), Python and pydantic's regex engine.
NO_NUL_PATTERN = "^[^\\u0000]*$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


@dataclass(frozen=True)
class _NoNul:
    """The check (an after-validator) and its statement in the JSON Schema."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_no_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = NO_NUL_PATTERN
        return json_schema


#: Annotate a ``str`` field with it: NUL is refused, and the schema says so.
NoNul = _NoNul()
