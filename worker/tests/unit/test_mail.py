from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from courier_worker.handlers.users import welcome_email
from courier_worker.mail import FileMailer
from shared_contracts import Envelope, UserRegistered


def test_file_mailer_writes_one_eml(tmp_path: Path, registration: Envelope[UserRegistered]) -> None:
    mailer = FileMailer(tmp_path / "mail")
    mailer.send(welcome_email(registration, mail_from="a@b.invalid"))
    mailer.send(welcome_email(registration, mail_from="a@b.invalid"))  # a repeat replaces it
    files = list((tmp_path / "mail").iterdir())
    assert [f.name for f in files] == [f"{registration.event_id}.eml"]
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["To"] == "ada@example.com"
    assert parsed["Message-ID"] == f"<{registration.event_id}@courier.invalid>"


def test_file_mailer_needs_a_message_id(tmp_path: Path) -> None:
    from email.message import EmailMessage

    with pytest.raises(ValueError, match="Message-ID"):
        FileMailer(tmp_path).send(EmailMessage())
    assert list(tmp_path.iterdir()) == []
