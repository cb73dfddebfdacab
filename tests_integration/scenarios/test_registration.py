"""A registration over HTTP becomes exactly one welcome email, traceable by request id."""

from __future__ import annotations

import uuid

from ..support.clients import WebClient
from ..support.polling import wait_until
from ..support.stack import Stack


def test_registration_sends_exactly_one_welcome_email(
    stack: Stack, web: WebClient, domain: str
) -> None:
    request_id = f"it-{uuid.uuid4().hex}"
    email = f"ada@{domain}"

    response = web.register(email, request_id=request_id)

    assert response.status_code == 201, response.text
    assert response.headers["X-Request-ID"] == request_id
    body = response.json()
    assert body["email"] == email
    assert "password" not in body
    mails = wait_until(lambda: stack.smtp.messages_to(domain), timeout=30, what="the welcome email")
    assert len(mails) == 1
    (mail,) = mails
    assert mail["rcpt_tos"] == [email]
    assert "Welcome" in mail["subject"]
    assert mail["headers"]["X-Correlation-ID"] == request_id


def test_duplicate_registration_is_a_conflict_and_sends_nothing_more(
    stack: Stack, web: WebClient, domain: str
) -> None:
    email = f"grace@{domain}"
    assert web.register(email).status_code == 201
    wait_until(lambda: stack.smtp.messages_to(domain), timeout=30, what="the first email")

    again = web.register(email.upper())

    assert again.status_code == 409, again.text
    assert again.headers["X-Request-ID"]
    # One more registration to a different domain proves the pipeline is flowing,
    # so the absence of a second email to this domain is not just slowness.
    witness = f"t{uuid.uuid4().hex[:12]}.example.com"
    assert web.register(f"witness@{witness}").status_code == 201
    wait_until(lambda: stack.smtp.messages_to(witness), timeout=30, what="the witness email")
    assert len(stack.smtp.messages_to(domain)) == 1


def test_invalid_input_is_a_client_error_naming_the_field(web: WebClient) -> None:
    response = web.session.post(
        f"{web.base_url}/api/users", json={"email": "not-an-email"}, timeout=10
    )

    assert 400 <= response.status_code < 500
    assert "email" in response.text
    assert response.headers["content-type"].startswith("application/json")
