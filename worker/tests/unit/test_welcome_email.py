from __future__ import annotations

from courier_worker.handlers import Dependencies
from courier_worker.handlers.users import send_welcome_email, welcome_email
from shared_contracts import Envelope, UserRegistered, new_envelope

from tests.fakes import FakeMailer


def test_welcome_email_content(registration: Envelope[UserRegistered]) -> None:
    message = welcome_email(registration, mail_from="Courier <no-reply@courier.invalid>")
    assert message["To"] == "ada@example.com"
    assert "Welcome" in message["Subject"]
    assert message["Message-ID"] == f"<{registration.event_id}@courier.invalid>"
    assert message["X-Correlation-ID"] == "req-abc123"
    assert message["From"] == "Courier <no-reply@courier.invalid>"
    assert "Hello Ada," in message.get_content()


def test_message_id_is_deterministic(registration: Envelope[UserRegistered]) -> None:
    first = welcome_email(registration, mail_from="a@b.invalid")
    second = welcome_email(registration, mail_from="a@b.invalid")
    assert first["Message-ID"] == second["Message-ID"]


def test_greets_the_email_without_a_display_name() -> None:
    envelope = new_envelope(
        UserRegistered(user_id=1, email="bo@example.com"), producer="web", correlation_id="r1"
    )
    assert "Hello bo@example.com," in welcome_email(envelope, mail_from="a@b.invalid").get_content()


def test_no_password_anywhere(registration: Envelope[UserRegistered]) -> None:
    text = welcome_email(registration, mail_from="a@b.invalid").as_string().lower()
    assert "password" not in text
    assert "hash" not in text


def test_handler_sends_one_email(registration: Envelope[UserRegistered]) -> None:
    mailer = FakeMailer()
    send_welcome_email(registration, Dependencies(mailer=mailer, mail_from="a@b.invalid"))
    assert [m["To"] for m in mailer.sent] == ["ada@example.com"]
