"""SMTP delivery of newsletter emails against a real (in-process) SMTP server."""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from courier_worker.newsletter_delivery import SmtpDelivery
from courier_worker.settings import SmtpConfig

from tests.component.helpers import SmtpSink

pytestmark = [pytest.mark.component, pytest.mark.timeout(60)]


@contextlib.contextmanager
def _noting(entered: Callable[[], None]) -> Iterator[None]:
    entered()  # what the handler does on entering: wait for its turn, commit "sent"
    yield


def email(to: str, n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Courier <news@courier.invalid>"
    message["To"] = to
    message["Subject"] = "News"
    message["Message-ID"] = f"<newsletter-n-{n}@courier.invalid>"
    message.set_content(".a line starting with a dot\nand the end\n")
    return message


def test_the_outcome_is_committed_before_the_server_has_the_message() -> None:
    with SmtpSink(faulty=True) as sink:
        delivery = SmtpDelivery(SmtpConfig(host="127.0.0.1", port=sink.port))
        seen_at_commit: list[int] = []
        try:
            outcomes = [
                delivery.send(
                    email(f"user{n}@example.com", n),
                    final=_noting(lambda: seen_at_commit.append(len(sink.messages))),
                )
                for n in range(3)
            ]
        finally:
            delivery.close()

        assert outcomes == ["sent", "sent", "sent"]
        # At each commit the server did not have that message yet.
        assert seen_at_commit == [0, 1, 2]
        assert [m["To"] for m in sink.messages] == [f"user{n}@example.com" for n in range(3)]
        assert sink.messages[0].get_content().startswith(".a line starting with a dot")


def test_a_recipient_refused_for_good_is_failed_and_the_connection_goes_on() -> None:
    with SmtpSink(faulty=True) as sink:
        delivery = SmtpDelivery(SmtpConfig(host="127.0.0.1", port=sink.port))
        commits: list[str] = []
        try:
            refused = delivery.send(
                email("reject-1@example.com", 1), final=_noting(lambda: commits.append("1"))
            )
            accepted = delivery.send(
                email("ok@example.com", 2), final=_noting(lambda: commits.append("2"))
            )
        finally:
            delivery.close()

        assert (refused, accepted) == ("failed", "sent")
        assert commits == ["2"]  # nothing committed as sent for the refused address
        assert [m["To"] for m in sink.messages] == ["ok@example.com"]


def test_a_temporary_refusal_raises_for_a_retry() -> None:
    with SmtpSink(faulty=True) as sink:
        delivery = SmtpDelivery(SmtpConfig(host="127.0.0.1", port=sink.port))
        try:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                delivery.send(email("always451-x@example.com", 1), final=contextlib.nullcontext())
            # A fresh connection afterwards still works.
            assert (
                delivery.send(email("ok@example.com", 2), final=contextlib.nullcontext()) == "sent"
            )
        finally:
            delivery.close()
