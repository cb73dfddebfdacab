"""``Email``: what the schema's pattern calls special-use, email-validator refuses too."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from courier_web.api.emails import Email


class _Registration(BaseModel):
    email: Email


def _refused_pattern() -> str:
    schema = _Registration.model_json_schema()["properties"]["email"]
    assert schema["format"] == "email"
    pattern: str = schema["not"]["pattern"]
    return pattern


@pytest.mark.parametrize(
    "address", ["ada@example.test", "ada@mail.INVALID", "ada@localhost", "ada@x.onion"]
)
def test_a_special_use_domain_is_refused_and_the_schema_says_so(address: str) -> None:
    assert re.search(_refused_pattern(), address)
    with pytest.raises(ValidationError):
        _Registration(email=address)


@pytest.mark.parametrize("address", ["ada@example.com", "ada@testing.org", "ada@local-shop.de"])
def test_an_ordinary_domain_passes_both(address: str) -> None:
    assert not re.search(_refused_pattern(), address)
    assert _Registration(email=address).email == address
