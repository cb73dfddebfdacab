"""Bad input against the live web container.

Schemathesis, run as a new user would run it (its command, ``--checks all``),
against the OpenAPI document the container serves: every operation, valid and
invalid inputs, the stateful sequences its links suggest, and every check:
no 5xx, every status and header documented, responses as documented,
schema-valid requests accepted and invalid ones refused, authentication
enforced, and the API's own promise (``fuzz_checks.py``): every error is the
JSON error shape and every response carries ``X-Request-ID``. Operations
that need credentials get a bearer token: a registered user's, and a staff
account's for the staff operations. Then the classic bad inputs, one by one:
malformed JSON, a wrong content type, a body over the limit, unknown fields.
Each is a clear JSON 4xx carrying ``X-Request-ID``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from ..support.clients import WebClient
from ..support.stack import Stack
from .fuzz_checks import REGISTRATION, REPORT_REQUEST

#: Examples per operation and phase: enough to reach every documented answer,
#: few enough that the whole run stays well under two minutes.
MAX_EXAMPLES = 25
#: The run's own budget (seconds); the command stops generating when it is spent.
MAX_SECONDS = 90
#: One seed, so that what a run finds, the next run finds again (and a fix is
#: proven by the same inputs); ``FUZZ_SEED=<n>`` explores other inputs.
SEED = os.environ.get("FUZZ_SEED", "20261202")
#: Fewer test cases than this and the run did not exercise the API.
MIN_CASES = 300
#: The web image's default HTTP_MAX_BODY_BYTES (256 KiB).
MAX_BODY_BYTES = 262_144
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS = Path(__file__).with_name("fuzz_checks.py")
#: Staff-only operations, and those whose stateful links (a user just created) need
#: someone who may see any user; DELETE stays with the plain user (a staff token that
#: deleted its own account would leave the rest of the run unauthenticated).
STAFF_OPERATIONS = (
    "GET /api/stats",
    "POST /api/users/import",
    "GET /api/users/{user_id}",
    "PATCH /api/users/{user_id}",
    # Not POST /api/newsletters: each valid example would mail every user of the suite.
    "GET /api/newsletters/{newsletter_id}",
)
#: Operations whose schema-valid input may still be refused with a 400: a signed
#: token that the schema can describe but only the server can verify.
SIGNED_TOKEN_OPERATIONS = (
    "GET /api/newsletters/unsubscribe",
    "POST /api/newsletters/unsubscribe",
)


def _token(web: WebClient, email: str, password: str) -> str:
    response = web.session.post(
        f"{web.base_url}/api/tokens", json={"email": email, "password": password}, timeout=30
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture
def user_token(web: WebClient) -> str:
    email, password = f"fuzz-{uuid.uuid4().hex[:12]}@example.com", "correct-horse-9"
    assert web.register(email, password=password).status_code == 201
    return _token(web, email, password)


@pytest.fixture
def staff_token(stack: Stack, web: WebClient) -> str:
    email, password = f"staff-{uuid.uuid4().hex[:12]}@example.com", f"staff-{uuid.uuid4().hex}"
    assert stack.web is not None
    # The operator's way to a first staff account: Django's createsuperuser, in the container.
    code, output = stack.web.get_wrapped_container().exec_run(
        ["courier-web", "createsuperuser", "--noinput", "--email", email],
        environment={"DJANGO_SUPERUSER_PASSWORD": password},
    )
    assert code == 0, output.decode(errors="replace")
    return _token(web, email, password)


def _config(path: Path, staff_token: str) -> Path:
    """The run's per-operation settings; each block selects its operations by exact name.

    (A block's include filters are alternatives: ``include-path`` with
    ``include-method`` would select every operation matching either.)
    """

    def names(*labels: str) -> str:
        # TOML literal strings ('...'): the labels' braces and slashes stay as they are.
        return "include-name = [" + ", ".join(f"'{label}'" for label in labels) + "]\n"

    staff = f"[[operations]]\n{names(*STAFF_OPERATIONS)}"
    staff += f"headers = {{ Authorization = 'Bearer {staff_token}' }}\n"
    # A schema-valid password may still be too common, or too like the email: the
    # custom check (fuzz_checks.py) lets only those rules refuse valid data there.
    registration = f"[[operations]]\n{names(' '.join(REGISTRATION))}"
    registration += "checks.positive_data_acceptance.expected-statuses = "
    registration += "['2xx', '409', '422', '429']\n"
    # A schema-valid range may still start after it ends, or be too long.
    report = f"[[operations]]\n{names(' '.join(REPORT_REQUEST))}"
    report += "checks.positive_data_acceptance.expected-statuses = "
    report += "['2xx', '401', '403', '404', '422', '429']\n"
    signed = f"[[operations]]\n{names(*SIGNED_TOKEN_OPERATIONS)}"
    signed += "checks.positive_data_acceptance.expected-statuses = ['2xx', '400', '429']\n"
    path.write_text(f"{staff}\n{registration}\n{report}\n{signed}")
    return path


def test_schemathesis_finds_nothing_with_every_check(
    web: WebClient, user_token: str, staff_token: str, tmp_path: Path
) -> None:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(_config(tmp_path / "schemathesis.toml", staff_token)),
        "run",
        f"{web.base_url}/api/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {user_token}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_SECONDS),
        "--generation-database",
        "none",
        "--seed",
        SEED,
        "--request-timeout",
        "30",
        "--no-color",
    ]
    # In its own folder: nothing it writes lands in the repository.
    run = subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS + 120,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20_000:]
    # A run that generated (almost) nothing proves nothing.
    generated = re.search(r"(\d+) generated", report)
    assert generated, report[-3000:]
    assert int(generated.group(1)) >= MIN_CASES, report[-3000:]


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
