"""Newsletters over the API: recipients fixed at creation, chunk events, progress, opt-out."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client
from shared_contracts import encode, new_envelope
from shared_contracts.events.newsletters import NewsletterChunkSent

from courier_web.consumer.processing import Outcome, process
from courier_web.newsletters.models import Newsletter
from courier_web.newsletters.unsubscribe import SALT, unsubscribe_token
from courier_web.outbox.models import OutboxMessage
from courier_web.users.models import User
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def call(client: Client, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = "" if body is None else json.dumps(body)
    return getattr(client, method)(path, data, content_type="application/json", headers=headers)


def token(client: Client, email: str, *, staff: bool = False) -> str:
    credentials = {"email": email, "password": STRONG_PASSWORD}
    assert call(client, "post", "/api/users", credentials).status_code == 201
    if staff:
        user = User.objects.get(email=email)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return str(call(client, "post", "/api/tokens", credentials).json()["token"])


def register(client: Client, *emails: str) -> None:
    for email in emails:
        answer = call(client, "post", "/api/users", {"email": email, "password": STRONG_PASSWORD})
        assert answer.status_code == 201, answer.content


def chunk_payloads() -> list[dict[str, Any]]:
    rows = OutboxMessage.objects.filter(event_type="newsletter.chunk_ready.v1").order_by("pk")
    return [json.loads(row.body)[1]["event"]["payload"] for row in rows]


def report(newsletter_id: str, chunk: int, sent: int, failed: int = 0) -> Outcome:
    """What the worker does once a chunk is done (here consumed directly)."""
    event = NewsletterChunkSent(
        newsletter_id=newsletter_id,  # type: ignore[arg-type]
        chunk=chunk,
        sent=sent,
        failed=failed,
    )
    message = encode(new_envelope(event, producer="courier-worker", correlation_id="r"))
    return process(message.body, message.headers).outcome


@pytest.fixture
def staff(client: Client) -> str:
    return token(client, "boss@example.com", staff=True)


def test_a_newsletter_goes_to_active_opted_in_users_in_bounded_chunks(
    client: Client, staff: str, settings: Any
) -> None:
    settings.NEWSLETTER_CHUNK_SIZE = 2
    settings.PUBLIC_BASE_URL = "https://courier.example.org/"
    register(client, "a@example.com", "b@example.com", "c@example.com", "gone@example.com")
    gone = User.objects.get(email="gone@example.com")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    ada = User.objects.get(email="a@example.com")
    ada_token = call(
        client, "post", "/api/tokens", {"email": "a@example.com", "password": STRONG_PASSWORD}
    ).json()["token"]
    opted_out = call(
        client, "patch", f"/api/users/{ada.pk}", {"newsletter_opt_in": False}, ada_token
    )
    assert opted_out.status_code == 200
    assert opted_out.json()["newsletter_opt_in"] is False

    response = call(client, "post", "/api/newsletters", {"subject": "News", "body": "Hi"}, staff)

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "sending"
    assert body["total"] == 3  # boss, b and c
    chunks = chunk_payloads()
    assert [c["chunk"] for c in chunks] == [0, 1]
    recipients = [r for c in chunks for r in c["recipients"]]
    emails = [r["email"] for r in recipients]
    assert emails == ["boss@example.com", "b@example.com", "c@example.com"]
    assert all(c["newsletter_id"] == body["id"] and c["subject"] == "News" for c in chunks)
    link = urlsplit(recipients[1]["unsubscribe_url"])
    assert (link.scheme, link.netloc, link.path) == (
        "https",
        "courier.example.org",
        "/api/newsletters/unsubscribe",
    )


def test_someone_registered_later_does_not_get_it(client: Client, staff: str) -> None:
    created = call(client, "post", "/api/newsletters", {"subject": "S", "body": "B"}, staff).json()
    register(client, "late@example.com")
    emails = [r["email"] for c in chunk_payloads() for r in c["recipients"]]
    assert emails == ["boss@example.com"]
    assert created["total"] == 1


def test_with_nobody_to_send_to_it_is_completed_at_once(client: Client, staff: str) -> None:
    for user in User.objects.all():
        user.newsletter_opt_in = False
        user.save(update_fields=["newsletter_opt_in"])
    body = call(client, "post", "/api/newsletters", {"subject": "S", "body": "B"}, staff).json()
    assert (body["status"], body["total"]) == ("completed", 0)
    assert chunk_payloads() == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": "", "body": "B"}, "subject"),
        ({"subject": "two\nlines", "body": "B"}, "subject"),
        ({"subject": "S"}, "body"),
        ({"subject": "S", "body": "B", "to": "everyone"}, "to"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: Client, staff: str, payload: dict[str, str], field: str
) -> None:
    response = call(client, "post", "/api/newsletters", payload, staff)
    assert response.status_code == 422, response.content
    assert field in json.dumps(response.json()["error"]["fields"])
    assert not Newsletter.objects.exists()


def test_sending_and_reading_are_for_staff(client: Client) -> None:
    ada = token(client, "ada@example.com")
    body = {"subject": "S", "body": "B"}
    assert call(client, "post", "/api/newsletters", body).status_code == 401
    assert call(client, "post", "/api/newsletters", body, ada).status_code == 403
    missing = "/api/newsletters/00000000-0000-0000-0000-000000000000"
    assert call(client, "get", missing, token=ada).status_code == 403


def test_progress_counts_each_chunk_once_and_completes(
    client: Client, staff: str, settings: Any
) -> None:
    settings.NEWSLETTER_CHUNK_SIZE = 2
    register(client, "b@example.com", "c@example.com")
    newsletter_id = call(
        client, "post", "/api/newsletters", {"subject": "S", "body": "B"}, staff
    ).json()["id"]

    assert report(newsletter_id, 0, sent=2) is Outcome.HANDLED
    assert report(newsletter_id, 0, sent=2) is Outcome.HANDLED  # reported again: set, not added
    progress = call(client, "get", f"/api/newsletters/{newsletter_id}", token=staff).json()
    assert (progress["sent"], progress["failed"], progress["total"]) == (2, 0, 3)
    assert progress["status"] == "sending"

    assert report(newsletter_id, 1, sent=0, failed=1) is Outcome.HANDLED
    progress = call(client, "get", f"/api/newsletters/{newsletter_id}", token=staff).json()
    assert (progress["sent"], progress["failed"], progress["status"]) == (2, 1, "completed")
    assert progress["finished_at"] is not None


def test_a_report_with_more_outcomes_than_recipients_changes_nothing(
    client: Client, staff: str
) -> None:
    newsletter_id = call(
        client, "post", "/api/newsletters", {"subject": "S", "body": "B"}, staff
    ).json()["id"]
    assert report(newsletter_id, 0, sent=5) is Outcome.HANDLED
    assert Newsletter.objects.get(pk=newsletter_id).sent == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_signed_link_opts_out_without_logging_in(client: Client, method: str) -> None:
    register(client, "b@example.com")
    user = User.objects.get(email="b@example.com")
    path = f"/api/newsletters/unsubscribe?token={unsubscribe_token(user.pk)}"
    if method == "post":  # RFC 8058 one-click: a form body, which is ignored
        response = client.post(
            path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        )
    else:
        response = client.get(path)
    assert response.status_code == 200, response.content
    assert response.json() == {"unsubscribed": True}
    user.refresh_from_db()
    assert user.newsletter_opt_in is False


@pytest.mark.parametrize(
    "token_value",
    [
        "nonsense",
        signing.dumps({"u": 1}, salt="another.purpose"),
        signing.dumps({"u": "1"}, salt=SALT),
    ],
)
def test_a_bad_token_is_a_400_with_a_clear_error(client: Client, token_value: str) -> None:
    response = client.get("/api/newsletters/unsubscribe", {"token": token_value})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"


def test_an_expired_token_is_a_400(client: Client, settings: Any) -> None:
    settings.NEWSLETTER_UNSUBSCRIBE_MAX_AGE_DAYS = -1
    register(client, "b@example.com")
    user = User.objects.get(email="b@example.com")
    response = client.get("/api/newsletters/unsubscribe", {"token": unsubscribe_token(user.pk)})
    assert response.status_code == 400
    assert "expired" in response.json()["error"]["message"]
    user.refresh_from_db()
    assert user.newsletter_opt_in is True
