"""No secret reaches a log: after a registration, a token and its use, grep every container.

Secrets checked: the user's password and its stored hash, the API token, the
services' broker passwords and the web's Django secret key. The same run
proves the logs were really read (the request id is there).
"""

from __future__ import annotations

import uuid

import psycopg

from ..support.clients import WebClient
from ..support.containers import ServiceContainer
from ..support.logs import all_logs, stack_containers
from ..support.polling import wait_until
from ..support.stack import Stack


def _container_env(container: ServiceContainer) -> dict[str, str]:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return dict(item.split("=", 1) for item in wrapped.attrs["Config"]["Env"])


def _amqp_password(url: str) -> str:
    credentials = url.split("://", 1)[1].split("@", 1)[0]
    return credentials.split(":", 1)[1]


def test_passwords_hashes_and_tokens_never_reach_a_log(
    stack: Stack, web: WebClient, domain: str
) -> None:
    password = f"pw-{uuid.uuid4().hex}-Secret"
    email = f"secret@{domain}"
    request_id = f"secrets-{uuid.uuid4().hex}"

    registered = web.register(email, password=password, request_id=request_id)
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]
    issued = web.session.post(
        f"{web.base_url}/api/tokens", json={"email": email, "password": password}, timeout=30
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    refused = web.session.post(
        f"{web.base_url}/api/tokens",
        json={"email": email, "password": password + "-wrong"},
        timeout=30,
    )
    assert refused.status_code == 401
    assert password not in refused.text
    patched = web.session.patch(
        f"{web.base_url}/api/users/{user_id}",
        json={"display_name": "Secret Keeper"},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": f"{request_id}-patch"},
        timeout=30,
    )
    assert patched.status_code == 200, patched.text
    wait_until(lambda: stack.smtp.messages_to(domain), timeout=60, what="the welcome email")

    with psycopg.connect(stack.postgres.url("courier_web")) as conn:
        row = conn.execute("SELECT password FROM users_user WHERE email = %s", (email,)).fetchone()
    assert row is not None
    password_hash = row[0]
    hash_digest = password_hash.rsplit("$", 1)[-1]

    secrets = {
        "the password": password,
        "the password's hash": password_hash,
        "the hash's digest": hash_digest,
        "the token": token,
        "the token's secret part": token.split("_", 1)[-1],
    }
    for container in stack_containers(stack):
        env = _container_env(container)
        if "RABBITMQ_URL" in env:
            secrets[f"{container.alias}'s broker password"] = _amqp_password(env["RABBITMQ_URL"])
        if "DJANGO_SECRET_KEY" in env:
            secrets[f"{container.alias}'s DJANGO_SECRET_KEY"] = env["DJANGO_SECRET_KEY"]

    logs = all_logs(stack)
    assert any(request_id in text for text in logs.values()), "the logs were not read"
    leaks = [
        f"{what} in {name}"
        for name, text in logs.items()
        for what, secret in secrets.items()
        if secret in text
    ]
    assert not leaks, leaks
