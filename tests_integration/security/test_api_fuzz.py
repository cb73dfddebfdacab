"""Bad input against the live web container.

A property-based run of the OpenAPI document the container serves
(schemathesis: every operation, valid and invalid inputs) must find no 5xx and
no error that is not the API's JSON error; then the classic bad inputs, one by
one: malformed JSON, a wrong content type, a body over the limit, unknown
fields. Each is a clear JSON 4xx carrying ``X-Request-ID``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from ..support.clients import WebClient

#: Examples per operation and phase: enough to hit every documented error path,
#: small enough that the whole run takes well under two minutes.
MAX_EXAMPLES = 100
#: The web image's default HTTP_MAX_BODY_BYTES (256 KiB).
MAX_BODY_BYTES = 262_144


@pytest.fixture
def web_api(web: WebClient) -> Any:
    schema = schemathesis.openapi.from_url(f"{web.base_url}/api/openapi.json", timeout=10)
    schema.config.update(base_url=web.base_url)
    return schema


def json_error_with_request_id(ctx: Any, response: Any, case: Any) -> None:
    """Every error response is the API's JSON error shape and names its request."""
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


def test_openapi_operations_never_fail_on_the_server(web_api: Any) -> None:
    # Driven by hand with Hypothesis rather than `schemathesis.pytest.from_fixture`,
    # whose lazy parametrization needs pytest internals that pytest 9 removed.
    operations = [result.ok() for result in web_api.get_all_operations()]
    assert len(operations) >= 4, [op.label for op in operations]
    failures: dict[str, str] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                print_blob=True,
            )
            def run(case: Any) -> None:
                case.call_and_validate(
                    checks=[not_a_server_error, json_error_with_request_id], timeout=30
                )

            try:
                run()
            # One report for every operation, not the first only. Schemathesis raises a
            # FailureGroup, a BaseExceptionGroup.
            except (AssertionError, BaseExceptionGroup) as failure:
                failures[f"{operation.label} ({mode})"] = f"{type(failure).__name__}: {failure}"
    assert not failures, "\n\n".join(f"{label}:\n{detail}" for label, detail in failures.items())


# ------------------------------------------------------------- explicit bad inputs


def _post_users(web: WebClient, data: bytes, content_type: str | None) -> requests.Response:
    headers = {"X-Request-ID": f"fuzz-{uuid.uuid4().hex}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = web.session.post(f"{web.base_url}/api/users", data=data, headers=headers, timeout=30)
    assert response.headers.get("X-Request-ID") == headers["X-Request-ID"]
    return response


def _assert_json_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()["error"]
    assert body["code"], body
    assert body["message"], body
    return body


def test_malformed_json_is_a_400(web: WebClient) -> None:
    response = _post_users(web, b'{"email": "a@example.com", "password": ', "application/json")
    _assert_json_error(response, 400)


def test_json_that_is_not_an_object_is_a_400(web: WebClient) -> None:
    _assert_json_error(_post_users(web, b'["a@example.com"]', "application/json"), 400)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", None],
)
def test_a_wrong_content_type_is_a_400(web: WebClient, content_type: str | None) -> None:
    body = b'{"email": "ct@example.com", "password": "correct-horse-9"}'
    response = _post_users(web, body, content_type)
    _assert_json_error(response, 400)


def test_a_body_over_the_limit_is_a_413(web: WebClient) -> None:
    padding = "x" * (MAX_BODY_BYTES + 1024)
    body = f'{{"email": "big@example.com", "password": "{padding}"}}'.encode()
    error = _assert_json_error(_post_users(web, body, "application/json"), 413)
    assert padding[:100] not in str(error)  # never echoes input


def test_a_chunked_body_over_the_limit_is_a_413(web: WebClient) -> None:
    def chunks() -> Any:
        yield b'{"email": "chunked@example.com", "password": "'
        for _ in range(MAX_BODY_BYTES // 16_384 + 2):
            yield b"y" * 16_384
        yield b'"}'

    headers = {"Content-Type": "application/json", "X-Request-ID": f"fuzz-{uuid.uuid4().hex}"}
    response = web.session.post(
        f"{web.base_url}/api/users", data=chunks(), headers=headers, timeout=30
    )
    assert response.headers.get("X-Request-ID") == headers["X-Request-ID"]
    _assert_json_error(response, 413)


def test_unknown_fields_are_a_422_naming_them(web: WebClient) -> None:
    body = b'{"email": "unknown@example.com", "password": "correct-horse-9", "is_staff": true}'
    error = _assert_json_error(_post_users(web, body, "application/json"), 422)
    assert "is_staff" in str(error.get("fields", error))


def test_unknown_fields_on_patch_are_a_4xx(web: WebClient) -> None:
    response = web.session.patch(
        f"{web.base_url}/api/users/1",
        json={"display_name": "x", "is_superuser": True},
        headers={"X-Request-ID": "fuzz-patch"},
        timeout=30,
    )
    # Anonymous: refused before the body is looked at, still a JSON 4xx.
    assert response.status_code in (401, 403, 422), response.text
    assert response.headers["X-Request-ID"] == "fuzz-patch"
    assert response.headers["content-type"].startswith("application/json")


def test_an_unknown_route_is_a_json_404(web: WebClient) -> None:
    response = web.get("/api/nothing-here", headers={"X-Request-ID": "fuzz-404"})
    _assert_json_error(response, 404)
    assert response.headers["X-Request-ID"] == "fuzz-404"
