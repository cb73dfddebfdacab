"""Sending one newsletter email so that a killed worker leaves (almost) no doubt behind.

An SMTP server takes responsibility for a message when it reads the final
``.`` of DATA. A worker that records "sent" only after the server's ``250``
leaves a window (the reply's trip back, QUIT, the record's COMMIT) in which
a SIGKILL means: delivered, but not recorded, so sent again on redelivery.
``SmtpDelivery`` closes that window to one ``send()`` of three bytes: it
writes the whole message but the terminating ``.``, waits for its send slot
and has the outcome committed (entering ``final``), and only then sends the
``.``: the server's receipt follows the slot by one ``send()``, whatever the
SMTP round trips before it cost, so the measured rate is the paced one. A worker killed
before the commit leaves the server holding an unfinished DATA, which it
discards; the recipient is sent to again. A reply other than ``250`` after
the commit is recorded as what it is (``failed`` for a 5xx) or undone (a
4xx: the record goes, the chunk is retried).

It also keeps one connection for the whole chunk, instead of one per email.
Without ``SMTP_URL`` the worker's ``Mailer`` (the ``.eml`` files, whose name
comes from the Message-ID, so a repeat overwrites itself) is used as is.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from contextlib import AbstractContextManager
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Protocol

import structlog

from courier_worker.mail import Mailer
from courier_worker.newsletter_store import Outcome
from courier_worker.settings import SmtpConfig

__all__ = ["Delivery", "MailerDelivery", "SmtpDelivery", "classify_refusal"]

log = structlog.get_logger(__name__)

_LINE_ENDS = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
_LEADING_DOT = re.compile(rb"(?m)^\.")


class Delivery(Protocol):
    """Sends one recipient's email, handing it over for good inside ``final`` (entered
    once: the send slot is waited for and "sent" committed on entering it)."""

    def send(self, message: EmailMessage, *, final: AbstractContextManager[None]) -> Outcome: ...

    def close(self) -> None: ...


def classify_refusal(exc: Exception) -> Outcome:
    """``failed`` when the server refused this recipient (or message) for good; else re-raise.

    Only a refusal of the recipient itself is final (a 5xx to RCPT TO or at
    the end of DATA); anything else (a 4xx, the server away, our sender
    refused) is raised, for the chunk to be retried.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            log.warning("newsletter.recipient_refused", codes=codes)
            return "failed"
    elif isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500:
        log.warning("newsletter.message_refused", code=exc.smtp_code)
        return "failed"
    raise exc


class MailerDelivery:
    """Through the worker's ``Mailer`` (the ``.eml`` files, or a test's fake)."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    def send(self, message: EmailMessage, *, final: AbstractContextManager[None]) -> Outcome:
        try:
            with final:
                self.mailer.send(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            return classify_refusal(exc)
        return "sent"

    def close(self) -> None:
        pass


class SmtpDelivery:
    """Over one SMTP connection per chunk, committing the outcome before the final ``.``."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage, *, final: AbstractContextManager[None]) -> Outcome:
        smtp = self._connection()
        sender = parseaddr(str(message["From"]))[1]
        recipient = parseaddr(str(message["To"]))[1]
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()
                return classify_refusal(smtplib.SMTPRecipientsRefused({recipient: (code, reply)}))
            code, reply = smtp.docmd("data")
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            smtp.send(_dot_stuffed(message))
            # Entering: the slot is due and "sent" committed. From here a crash cannot
            # cause a second copy, and the server's receipt follows by one send().
            with final:
                smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException):
            self.close()  # a connection in an unknown state is never reused
            raise
        if code == 250:
            return "sent"
        return classify_refusal(smtplib.SMTPDataError(code, reply))

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        config = self._config
        smtp: smtplib.SMTP
        if config.ssl:
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=_tls_context()
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            smtp.ehlo()
            if config.starttls:
                smtp.starttls(context=_tls_context())
                smtp.ehlo()
            if config.username:
                smtp.login(config.username, config.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def __repr__(self) -> str:
        return f"SmtpDelivery({self._config!r})"


def _dot_stuffed(message: EmailMessage) -> bytes:
    """The message as DATA carries it (CRLF lines, leading dots doubled), minus the final ``.``."""
    data = _LINE_ENDS.sub(b"\r\n", message.as_bytes(policy=policy.SMTP))
    data = _LEADING_DOT.sub(b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
