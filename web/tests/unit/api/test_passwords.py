"""``Password`` states the configured password validators' rules in its JSON Schema."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings
from pydantic import BaseModel

from courier_web.api.passwords import MAX_PASSWORD_LENGTH, Password


class _Registration(BaseModel):
    password: Password


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = _Registration.model_json_schema()["properties"]["password"]
    return schema


def test_the_configured_rules_are_in_the_schema(settings: Any) -> None:
    min_length = next(
        v["OPTIONS"]["min_length"]
        for v in settings.AUTH_PASSWORD_VALIDATORS
        if v["NAME"].endswith("MinimumLengthValidator")
    )

    schema = _schema()

    assert schema["minLength"] == min_length
    assert schema["maxLength"] == MAX_PASSWORD_LENGTH
    assert "common" in schema["description"]
    assert "similar" in schema["description"]


@pytest.mark.parametrize("password", ["1234567890123", "12345"])
def test_what_the_pattern_refuses_the_validators_refuse(password: str) -> None:
    assert not re.search(_schema()["pattern"], password)
    with pytest.raises(ValidationError):
        validate_password(password)


def test_what_the_schema_allows_by_length_and_pattern_can_pass() -> None:
    schema = _schema()
    password = "k" * (schema["minLength"] - 1) + "7"

    assert re.search(schema["pattern"], password)
    validate_password(password)  # no exception


@override_settings(
    AUTH_PASSWORD_VALIDATORS=[
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 14},
        }
    ]
)
def test_the_schema_follows_the_settings() -> None:
    schema = _schema()

    assert schema["minLength"] == 14
    assert "pattern" not in schema
