"""Place 3 of 3, the handler: what a module under ``worker/src/courier_worker/handlers/`` holds."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from courier_worker.handlers import Dependencies, handles
from courier_worker.queues import BULK
from shared_contracts import Envelope

from tests_guide.example.contract import DisplayNameChanged


@handles(DisplayNameChanged, queue=BULK, transient=(smtplib.SMTPServerDisconnected,))
def notify_display_name_changed(envelope: Envelope[DisplayNameChanged], deps: Dependencies) -> None:
    """Tell the user their display name changed (in case it was not them)."""
    user = envelope.payload
    message = EmailMessage()
    message["From"] = deps.mail_from
    message["To"] = user.email
    message["Subject"] = "Your display name was changed"
    # From the event id: a second delivery of the same event is the same email.
    message["Message-ID"] = f"<{envelope.event_id}@courier.invalid>"
    message.set_content(f"Your display name is now {user.display_name!r}.\n")
    deps.mailer.send(message)
