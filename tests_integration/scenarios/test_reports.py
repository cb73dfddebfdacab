"""Reports end to end: web and worker in their own containers, sharing only the broker and the
storage. The worker builds its read model from the registrations, writes the CSV, says so; the
web's consumer settles the report; the requester downloads it, checksum verified."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ..support.clients import WebClient
from ..support.containers import Consumer
from ..support.polling import wait_until
from ..support.stack import Stack

PASSWORD = "correct-horse-9"
IMPORTED = 1000
REGISTERED = 5


@pytest.fixture(autouse=True)
def consumer(stack: Stack) -> Consumer:
    """The web's consumer applies the results these tests wait for."""
    return stack.ensure_consumer()


def _settled(web: WebClient, report_id: str, token: str) -> dict[str, Any] | None:
    shown = web.call("GET", f"/api/reports/{report_id}", token=token)
    assert shown.status_code == 200, shown.text
    body: dict[str, Any] = shown.json()
    return body if body["status"] != "pending" else None


def test_a_report_over_1000_signups_is_downloaded_by_its_requester_only(
    stack: Stack, web: WebClient, domain: str
) -> None:
    assert stack.web is not None
    started = datetime.now(UTC)
    staff = f"staff@t{uuid.uuid4().hex[:12]}.example.com"  # not one of the counted sign-ups
    stack.web.create_staff(staff, PASSWORD)
    staff_token = web.token(staff, PASSWORD)
    rows = [{"email": f"user{n}@{domain}", "display_name": f"User, {n}"} for n in range(IMPORTED)]
    imported = web.call("POST", "/api/users/import", token=staff_token, json=rows)
    assert imported.status_code == 201, imported.text
    expected = {
        created["id"]: (created["email"], f"User, {created['row']}")
        for created in imported.json()["created"]
    }
    for n in range(REGISTERED):
        answer = web.register(f"solo{n}@{domain}", password=PASSWORD)
        assert answer.status_code == 201, answer.text
        expected[answer.json()["id"]] = (f"solo{n}@{domain}", "")
    # The worker adds a user to its read model before it sends the welcome
    # email, so every email in means every user is in the read model.
    wait_until(
        lambda: len(stack.smtp.messages_to(domain)) >= IMPORTED + REGISTERED,
        timeout=300,
        what=f"{IMPORTED + REGISTERED} welcome emails",
        interval=1,
    )
    requester = f"solo0@{domain}"
    token = web.token(requester, PASSWORD)
    today = started.date()
    asked = web.call(
        "POST",
        "/api/reports",
        token=token,
        json={
            "kind": "signups",
            "from": str(today - timedelta(days=1)),
            "to": str(today + timedelta(days=1)),
        },
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "pending"
    report_id = asked.json()["id"]

    report = wait_until(
        lambda: _settled(web, report_id, token), timeout=120, what="the report to be settled"
    )
    assert report["status"] == "completed", report
    download = web.call("GET", f"/api/reports/{report_id}/download", token=token)
    assert download.status_code == 200, download.text
    assert download.headers["Content-Type"] == "text/csv"
    data = download.content
    assert hashlib.sha256(data).hexdigest() == report["sha256"]
    assert len(data) == report["size_bytes"]
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert len(table) == report["row_count"]
    ours = {
        int(row["user_id"]): (row["email"], row["display_name"])
        for row in table
        if row["email"].endswith("@" + domain)
    }
    # Other tests register users too; among the rows, this test's are exactly its users.
    assert ours == expected
    assert len(ours) > 1000
    registered = [
        datetime.fromisoformat(row["registered_at"])
        for row in table
        if row["email"].endswith("@" + domain)
    ]
    assert all(started - timedelta(minutes=1) <= when <= datetime.now(UTC) for when in registered)

    # The file is in the stack's S3 bucket, private: only the web hands it out.
    assert stack.s3 is not None
    key = f"shared/reports/{report_id}.csv"
    bucket = stack.s3.client()
    assert bucket.get_object(Bucket=stack.s3.bucket, Key=key)["Body"].read() == data
    grants = bucket.get_object_acl(Bucket=stack.s3.bucket, Key=key)["Grants"]
    assert not [g for g in grants if "AllUsers" in str(g.get("Grantee", {}).get("URI", ""))]

    # Staff may download it; another user gets the 404 of a missing report.
    assert (
        web.call("GET", f"/api/reports/{report_id}/download", token=staff_token).status_code == 200
    )
    other = web.token(f"solo1@{domain}", PASSWORD)
    for path in (f"/api/reports/{report_id}", f"/api/reports/{report_id}/download"):
        assert web.call("GET", path, token=other).status_code == 404
    assert web.call("GET", f"/api/reports/{uuid.uuid4()}", token=other).status_code == 404


def test_a_range_over_366_days_or_backwards_is_a_422(web: WebClient, domain: str) -> None:
    email = f"ada@{domain}"
    assert web.register(email, password=PASSWORD).status_code == 201
    token = web.token(email, PASSWORD)
    for body in (
        {"kind": "signups", "from": "2025-01-01", "to": "2026-01-02"},
        {"kind": "signups", "from": "2026-01-02", "to": "2026-01-01"},
    ):
        answer = web.call("POST", "/api/reports", token=token, json=body)
        assert answer.status_code == 422, answer.text
    assert web.call("POST", "/api/reports", json={"kind": "signups"}).status_code == 401
