"""Handlers for events about user accounts."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import structlog
from shared_contracts import Envelope, UserRegistered

from courier_worker.handlers.base import Dependencies
from courier_worker.handlers.registry import handles
from courier_worker.queues import CRITICAL
from courier_worker.read_model import user_directory

log = structlog.get_logger(__name__)

MESSAGE_ID_DOMAIN = "courier.invalid"
CORRELATION_HEADER = "X-Correlation-ID"


@handles(UserRegistered, queue=CRITICAL)
def send_welcome_email(envelope: Envelope[UserRegistered], deps: Dependencies) -> None:
    """Send the new user one welcome email, and add them to the read model (reports)."""
    # The read model first: applying a registration twice changes nothing, so
    # a retry after a failed send repeats it harmlessly.
    user_directory().apply_registered(envelope)
    deps.mailer.send(welcome_email(envelope, mail_from=deps.mail_from))
    log.info("welcome_email.sent", user_id=envelope.payload.user_id)


def welcome_email(envelope: Envelope[UserRegistered], *, mail_from: str) -> EmailMessage:
    """The welcome email for ``envelope``; the same event always yields the same Message-ID."""
    user = envelope.payload
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = user.email
    message["Subject"] = "Welcome to Courier"
    message["Date"] = format_datetime(envelope.occurred_at)
    # Derived from the event id: a repeated delivery produces the same id, so
    # mail systems (and the FileMailer) can recognise it as the same message.
    message["Message-ID"] = message_id(envelope)
    message[CORRELATION_HEADER] = envelope.correlation_id
    name = user.display_name.strip() or user.email
    message.set_content(
        f"Hello {name},\n\nwelcome to Courier! Your account is ready.\n\n-- The Courier team\n"
    )
    return message


def message_id(envelope: Envelope[UserRegistered]) -> str:
    return f"<{envelope.event_id}@{MESSAGE_ID_DOMAIN}>"
