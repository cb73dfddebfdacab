"""Hand-written fakes implementing the worker's ports (no mock.patch chains)."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from courier_worker.deadletter import DeadLetter
from courier_worker.retry import RetryMessage


class FakeMailer:
    """A ``Mailer`` that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


class FailingMailer:
    """A ``Mailer`` whose server is down."""

    def send(self, message: EmailMessage) -> None:
        raise ConnectionRefusedError("SMTP server unreachable")


class FakeHandledEvents:
    """A ``HandledEvents`` store in a set."""

    def __init__(self) -> None:
        self.recorded: dict[uuid.UUID, str] = {}

    def is_handled(self, event_id: uuid.UUID) -> bool:
        return event_id in self.recorded

    @contextmanager
    def claim(self, event_id: uuid.UUID, event_type: str) -> Iterator[bool]:
        if event_id in self.recorded:
            yield False
            return
        yield True  # an exception raised in the block propagates here: nothing recorded
        self.recorded[event_id] = event_type


class FakeDeadLetters:
    """A ``DeadLetterPublisher`` that keeps the letters."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def publish(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


class FakeRetries:
    """A ``RetryPublisher`` that keeps the retry copies (or fails, when told to)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.messages: list[RetryMessage] = []
        self.fail = fail

    def publish(self, message: RetryMessage) -> None:
        if self.fail:
            raise ConnectionResetError("broker went away before confirming")
        self.messages.append(message)


class SmtpRefusingMailer:
    """A ``Mailer`` whose SMTP server answers ``code`` to the first ``times`` messages."""

    def __init__(self, code: int, times: int = 10**9) -> None:
        self.code = code
        self.times = times
        self.attempts = 0
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.attempts += 1
        if self.attempts <= self.times:
            raise smtplib.SMTPDataError(self.code, b"refused by the test")
        self.sent.append(message)
