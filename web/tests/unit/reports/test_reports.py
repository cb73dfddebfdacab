"""Reports over the API: asked for, settled by the worker's answer, downloaded by their owner."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from shared_contracts import encode, new_envelope
from shared_contracts.events.reports import ReportCompleted, ReportFailed

from courier_web.consumer.processing import Outcome, process
from courier_web.outbox.models import OutboxMessage
from courier_web.reports.models import Report
from courier_web.shared_storage import LocalStorage, shared_storage
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

CSV = b"user_id,email,display_name,registered_at\r\n1,a@example.com,A,2026-03-01T00:00:00Z\r\n"


@pytest.fixture(autouse=True)
def storage(settings: Any, tmp_path: Path) -> LocalStorage:
    settings.STORAGE_URL = str(tmp_path / "storage")
    local = shared_storage()
    assert isinstance(local, LocalStorage)
    return local


def call(client: Client, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = "" if body is None else json.dumps(body)
    return getattr(client, method)(path, data, content_type="application/json", headers=headers)


def token(client: Client, email: str, *, staff: bool = False) -> str:
    credentials = {"email": email, "password": STRONG_PASSWORD}
    call(client, "post", "/api/users", credentials)
    if staff:
        from courier_web.users.models import User

        user = User.objects.get(email=email)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return str(call(client, "post", "/api/tokens", credentials).json()["token"])


def ask(client: Client, who: str, body: Any | None = None) -> Any:
    body = body or {"kind": "signups", "from": "2026-03-01", "to": "2026-03-31"}
    return call(client, "post", "/api/reports", body, who)


def settle(report_id: str, storage: LocalStorage, *, data: bytes = CSV) -> None:
    """What the worker does: store the file, emit report.completed.v1 (here consumed directly)."""
    reference = f"reports/{report_id}.csv"
    with storage.writer(reference) as out:
        out.write(data)
    completed = ReportCompleted(
        report_id=report_id,  # type: ignore[arg-type]
        reference=reference,
        row_count=1,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    message = encode(new_envelope(completed, producer="courier-worker", correlation_id="r"))
    assert process(message.body, message.headers).outcome is Outcome.HANDLED


def test_asking_for_a_report_answers_202_and_emits_the_request(client: Client) -> None:
    ada = token(client, "ada@example.com")
    response = ask(client, ada)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    row = OutboxMessage.objects.get(event_type="report.requested.v1")
    payload = json.loads(row.body)[1]["event"]["payload"]
    assert payload["report_id"] == body["id"]
    assert (payload["date_from"], payload["date_to"], payload["kind"]) == (
        "2026-03-01",
        "2026-03-31",
        "signups",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "signups", "from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"kind": "signups", "from": "2025-01-01", "to": "2026-01-02"}, "to"),
        ({"kind": "signups", "from": "2026-02-30", "to": "2026-03-01"}, "from"),
        ({"kind": "everything", "from": "2026-03-01", "to": "2026-03-01"}, "kind"),
        ({"kind": "signups", "from": "2026-03-01"}, "to"),
    ],
)
def test_a_bad_range_or_kind_is_a_422_naming_the_field(
    client: Client, body: dict[str, str], field: str
) -> None:
    response = ask(client, token(client, "ada@example.com"), body)
    assert response.status_code == 422, response.content
    assert field in response.json()["error"]["fields"]
    assert not Report.objects.exists()


def test_366_days_are_allowed(client: Client) -> None:
    body = {"kind": "signups", "from": "2024-01-01", "to": "2024-12-31"}  # a leap year
    assert ask(client, token(client, "ada@example.com"), body).status_code == 202


def test_reports_need_an_account(client: Client) -> None:
    assert ask(client, "not-a-token").status_code == 401


def test_a_completed_report_is_downloaded_by_its_requester_and_staff_only(
    client: Client, storage: LocalStorage
) -> None:
    ada, mallory = token(client, "ada@example.com"), token(client, "mallory@example.com")
    staff = token(client, "staff@example.com", staff=True)
    report_id = ask(client, ada).json()["id"]
    assert call(client, "get", f"/api/reports/{report_id}/download", token=ada).status_code == 409

    settle(report_id, storage)
    shown = call(client, "get", f"/api/reports/{report_id}", token=ada).json()
    assert shown["status"] == "completed"
    assert (shown["row_count"], shown["size_bytes"]) == (1, len(CSV))
    assert shown["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert (shown["from"], shown["to"]) == ("2026-03-01", "2026-03-31")

    for who in (ada, staff):
        response = call(client, "get", f"/api/reports/{report_id}/download", token=who)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv"
        assert b"".join(response.streaming_content) == CSV
    for path in (f"/api/reports/{report_id}", f"/api/reports/{report_id}/download"):
        assert call(client, "get", path, token=mallory).status_code == 404


def test_a_file_that_does_not_match_its_checksum_is_never_sent(
    client: Client, storage: LocalStorage
) -> None:
    ada = token(client, "ada@example.com")
    report_id = ask(client, ada).json()["id"]
    settle(report_id, storage)
    storage.path(f"reports/{report_id}.csv").write_bytes(CSV.replace(b"A", b"B"))
    response = call(client, "get", f"/api/reports/{report_id}/download", token=ada)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "integrity_error"


def test_the_first_answer_settles_a_report_and_later_ones_change_nothing(
    client: Client, storage: LocalStorage
) -> None:
    ada = token(client, "ada@example.com")
    report_id = ask(client, ada).json()["id"]
    failed = ReportFailed(report_id=report_id, reason="the storage is full")  # type: ignore[arg-type]
    message = encode(new_envelope(failed, producer="courier-worker", correlation_id="r"))
    assert process(message.body, message.headers).outcome is Outcome.HANDLED
    settle(report_id, storage)  # a late, different answer
    shown = call(client, "get", f"/api/reports/{report_id}", token=ada).json()
    assert shown["status"] == "failed"
    assert shown["reason"] == "the storage is full"
    assert shown["row_count"] is None


def test_replaying_registrations_writes_one_replay_per_account(client: Client) -> None:
    from io import StringIO

    from django.core.management import call_command

    token(client, "ada@example.com")
    token(client, "lin@example.com")
    out = StringIO()
    call_command("replay_registrations", stdout=out)
    assert "replayed 2 registrations" in out.getvalue()
    rows = OutboxMessage.objects.filter(event_type="user.registration_replayed.v1")
    payloads = sorted(
        (json.loads(row.body)[1]["event"]["payload"] for row in rows), key=lambda p: p["user_id"]
    )
    assert [p["email"] for p in payloads] == ["ada@example.com", "lin@example.com"]
    assert all(p["registered_at"] for p in payloads)
    # Not a registration: no second user.registered.v1.
    assert OutboxMessage.objects.filter(event_type="user.registered.v1").count() == 2
