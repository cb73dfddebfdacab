"""A staff import of 200 users: one 201, and exactly one welcome email per imported user."""

from __future__ import annotations

import uuid

from ..support.clients import WebClient
from ..support.polling import wait_until
from ..support.stack import Stack

PASSWORD = "correct-horse-9"
COUNT = 200


def test_an_import_of_200_users_sends_200_welcome_emails_one_each(
    stack: Stack, web: WebClient, domain: str
) -> None:
    assert stack.web is not None
    staff_domain = f"t{uuid.uuid4().hex[:12]}.example.com"
    staff = f"staff@{staff_domain}"
    stack.web.create_staff(staff, PASSWORD)
    token = web.token(staff, PASSWORD)
    emails = [f"user{n}@{domain}" for n in range(COUNT)]
    refused = [{"email": "not-an-email"}, {"email": emails[0].upper()}, {"email": staff}]
    rows = [{"email": email, "display_name": f"User {n}"} for n, email in enumerate(emails)]

    response = web.call("POST", "/api/users/import", token=token, json=rows + refused)

    assert response.status_code == 201, response.text
    answer = response.json()
    assert [c["row"] for c in answer["created"]] == list(range(COUNT))
    assert len({c["id"] for c in answer["created"]}) == COUNT
    assert [(e["row"], e["code"]) for e in answer["errors"]] == [
        (COUNT, "invalid"),
        (COUNT + 1, "duplicate"),
        (COUNT + 2, "duplicate"),
    ]
    mails = wait_until(
        lambda: (found := stack.smtp.messages_to(domain)) and len(found) >= COUNT and found,
        timeout=180,
        what=f"{COUNT} welcome emails",
        interval=1,
    )
    # A later registration's email proves the pipeline flowed past the import:
    # a duplicate welcome would have had every chance to arrive by then.
    witness = f"t{uuid.uuid4().hex[:12]}.example.com"
    assert web.register(f"witness@{witness}").status_code == 201
    wait_until(lambda: stack.smtp.messages_to(witness), timeout=60, what="the witness email")
    mails = stack.smtp.messages_to(domain)
    recipients = sorted(r for mail in mails for r in mail["rcpt_tos"])
    assert recipients == sorted(emails)
    assert all("Welcome" in mail["subject"] for mail in mails)


def test_only_staff_may_import(stack: Stack, web: WebClient, domain: str) -> None:
    email = f"ada@{domain}"
    assert web.register(email, password=PASSWORD).status_code == 201
    token = web.token(email, PASSWORD)
    rows = [{"email": f"sneaky@{domain}"}]

    anonymous = web.call("POST", "/api/users/import", json=rows)
    user = web.call("POST", "/api/users/import", token=token, json=rows)

    assert anonymous.status_code == 401
    assert user.status_code == 403
    assert user.json()["error"]["code"] == "forbidden"
