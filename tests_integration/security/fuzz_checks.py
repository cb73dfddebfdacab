"""Schemathesis hooks of the API fuzz run (``SCHEMATHESIS_HOOKS``): the API's own promises.

Loaded by the ``schemathesis`` command that ``test_api_fuzz.py`` runs; a check
registered here runs with the built-in ones (``--checks all``).
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis


@schemathesis.check
def json_error_with_request_id(ctx: Any, response: Any, case: Any) -> None:
    """Every response names its request; every error is the API's JSON error shape."""
    assert response.headers.get("x-request-id"), "response without X-Request-ID"
    if response.status_code < 400:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), (
        f"{response.status_code} error with content type {content_type!r}: "
        f"{response.content[:200]!r}"
    )
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), dict), body
    assert body["error"].get("code"), body
    assert body["error"].get("message"), body


#: The registration's password rules that no JSON Schema can state: the schema
#: lists them in the field's description (``courier_web.api.passwords``).
_UNSTATABLE_PASSWORD_RULES = re.compile(r"too similar to the|too common")
#: Where schema-valid data may still be refused for those rules alone (the fuzz
#: run's configuration lets 422 through the built-in acceptance check there).
REGISTRATION = ("POST", "/api/users")


@schemathesis.check
def schema_valid_registration_refused_only_for_unstatable_rules(
    ctx: Any, response: Any, case: Any
) -> None:
    """A schema-valid registration is accepted, unless a rule no schema can state refuses it."""
    if (case.method.upper(), case.path) != REGISTRATION or response.status_code != 422:
        return
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    fields = response.json()["error"].get("fields") or {}
    assert set(fields) == {"password"}, f"schema-valid registration refused: {fields}"
    stated = [m for m in fields["password"] if not _UNSTATABLE_PASSWORD_RULES.search(m)]
    assert not stated, f"refused for a rule the schema could state: {stated}"


#: A report's range rules no JSON Schema can state (two fields compared), as the
#: API words them (``courier_web.reports.services``).
_UNSTATABLE_RANGE_RULES = {
    "from": re.compile(r"must not be after 'to'"),
    "to": re.compile(r"the range covers at most \d+ days"),
}
#: Where schema-valid data may still be refused for those rules alone.
REPORT_REQUEST = ("POST", "/api/reports")


@schemathesis.check
def schema_valid_report_refused_only_for_its_range(ctx: Any, response: Any, case: Any) -> None:
    """A schema-valid report request is accepted, unless its range is backwards or too long."""
    if (case.method.upper(), case.path) != REPORT_REQUEST or response.status_code != 422:
        return
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    fields = response.json()["error"].get("fields") or {}
    assert fields, "schema-valid report request refused without naming a field"
    for field, messages in fields.items():
        rule = _UNSTATABLE_RANGE_RULES.get(field)
        assert rule is not None, f"schema-valid report request refused for {field}: {messages}"
        stated = [m for m in messages if not rule.search(m)]
        assert not stated, f"refused for a rule the schema could state: {stated}"
