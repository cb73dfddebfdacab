"""``NoNul`` refuses NUL with a message naming it, and its schema pattern says the same."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from courier_web.api.text import NoNul


class _Form(BaseModel):
    name: Annotated[str, Field(max_length=20), NoNul]
    nickname: Annotated[str, Field(max_length=20), NoNul] | None = None


def test_nul_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        _Form(name="A\x00da")

    (error,) = refused.value.errors()
    assert error["loc"] == ("name",)
    assert "NUL" in error["msg"]


def test_the_schema_pattern_refuses_what_the_check_refuses() -> None:
    schema = _Form.model_json_schema()["properties"]
    pattern = schema["name"]["pattern"]
    optional = next(option for option in schema["nickname"]["anyOf"] if option["type"] == "string")

    assert optional["pattern"] == pattern
    assert schema["name"]["maxLength"] == 20
    assert re.search(pattern, "Ada Lovelace")
    assert not re.search(pattern, "A\x00da")
    assert _Form(name="Ada", nickname=None).name == "Ada"
