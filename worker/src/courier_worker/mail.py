"""Delivering email: over SMTP, or as ``.eml`` files when no SMTP server is configured."""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from courier_worker.settings import SmtpConfig

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class Mailer(Protocol):
    """Something that delivers a fully built email message."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Delivers through an SMTP server (plain, STARTTLS or TLS), one connection per message."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def send(self, message: EmailMessage) -> None:
        config = self._config
        smtp: smtplib.SMTP
        if config.ssl:
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=_tls_context()
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with smtp:
            smtp.ehlo()
            if config.starttls:
                smtp.starttls(context=_tls_context())
                smtp.ehlo()
            if config.username:
                smtp.login(config.username, config.password or "")
            smtp.send_message(message)

    def __repr__(self) -> str:
        return f"SmtpMailer({self._config!r})"


class FileMailer:
    """Writes each message to ``<directory>/<Message-ID local part>.eml``, atomically.

    The file name comes from the Message-ID, which derives from the event id,
    so a repeated delivery overwrites its own file instead of adding one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{file_stem(message)}.eml"
        # Write then rename: a reader (or a crash) never sees half a message.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __repr__(self) -> str:
        return f"FileMailer({str(self.directory)!r})"


def file_stem(message: EmailMessage) -> str:
    """A safe file name for ``message``: the local part of its Message-ID."""
    message_id = str(message.get("Message-ID", "")).strip().strip("<>")
    local = message_id.split("@", 1)[0]
    stem = _UNSAFE.sub("_", local)
    if not stem.strip("._"):
        raise ValueError("a message needs a Message-ID to be written to a file")
    return stem


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
