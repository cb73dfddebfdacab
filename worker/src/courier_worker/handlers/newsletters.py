"""Newsletters: send a chunk's emails at the deployment's pace, once per recipient, and say so.

Per recipient, in order: skip one that already has an outcome (a redelivered
chunk), take a send slot (``pacing``), claim the recipient
(``newsletter_store``), send, record ``sent`` (or ``failed`` when the server
refuses that address for good, a 5xx); over SMTP the slot is waited for and
"sent" committed just before the message's final ``.`` (``newsletter_delivery``).
A transient failure (the server is down, a 4xx) raises: the chunk is retried
through the worker's delay queues and its recipients already recorded are
skipped. Once every recipient has
an outcome the chunk's counts go back to the web as newsletter.chunk_sent.v1.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

import structlog
from shared_contracts import Envelope
from shared_contracts.events.newsletters import (
    NewsletterChunkReady,
    NewsletterChunkSent,
    NewsletterRecipient,
)

from courier_worker.handlers.base import Dependencies
from courier_worker.handlers.registry import handles
from courier_worker.newsletter_delivery import Delivery, MailerDelivery, SmtpDelivery
from courier_worker.newsletter_store import Claim, newsletter_store
from courier_worker.pacing import NEWSLETTER_PACE, SendPace, Slot, Turn
from courier_worker.queues import BULK
from courier_worker.results import publishes, result_envelope
from courier_worker.settings import get_settings

log = structlog.get_logger(__name__)

MESSAGE_ID_DOMAIN = "courier.invalid"
CORRELATION_HEADER = "X-Correlation-ID"

publishes(NewsletterChunkSent, on=NewsletterChunkReady)


@handles(NewsletterChunkReady, queue=BULK, transient=(smtplib.SMTPException, OSError))
def send_newsletter_chunk(envelope: Envelope[NewsletterChunkReady], deps: Dependencies) -> None:
    """Send the chunk to each of its recipients not yet done, then report its counts."""
    chunk = envelope.payload
    store = newsletter_store()
    pace = SendPace(store, NEWSLETTER_PACE, per_second=get_settings().NEWSLETTER_RATE_LIMIT)
    outcomes = store.outcomes(chunk.newsletter_id, (r.user_id for r in chunk.recipients))
    skipped = len(outcomes)
    delivery = newsletter_delivery(deps)
    try:
        for recipient in chunk.recipients:
            if recipient.user_id in outcomes:
                continue
            ticket = pace.ticket()
            message = newsletter_email(envelope, recipient, deps)
            with store.claim(chunk.newsletter_id, recipient.user_id) as claim:
                if claim is not None:
                    outcome = delivery.send(message, final=_final(ticket, claim))
                    claim.record(outcome)
                    outcomes[recipient.user_id] = outcome
            if claim is None:
                # Another delivery of this chunk decided it meanwhile (it held the claim).
                outcomes.update(store.outcomes(chunk.newsletter_id, [recipient.user_id]))
    finally:
        delivery.close()
    sent = sum(1 for outcome in outcomes.values() if outcome == "sent")
    failed = len(outcomes) - sent
    report = NewsletterChunkSent(
        newsletter_id=chunk.newsletter_id, chunk=chunk.chunk, sent=sent, failed=failed
    )
    deps.result_publisher().publish(result_envelope(report, cause=envelope))
    log.info(
        "newsletter.chunk_sent",
        newsletter_id=str(chunk.newsletter_id),
        chunk=chunk.chunk,
        sent=sent,
        failed=failed,
        already_done=skipped,
    )


@contextmanager
def _final(ticket: Slot | Turn, claim: Claim) -> Iterator[None]:
    """The send's last moment: this sender's turn, "sent" committed, then the hand-over."""
    with ticket.turn():
        claim.commit_sent()
        yield


def newsletter_delivery(deps: Dependencies) -> Delivery:
    """Over SMTP with the outcome committed before the final ``.``, or the worker's mailer."""
    smtp = get_settings().smtp
    return SmtpDelivery(smtp) if smtp is not None else MailerDelivery(deps.mailer)


def newsletter_email(
    envelope: Envelope[NewsletterChunkReady], recipient: NewsletterRecipient, deps: Dependencies
) -> EmailMessage:
    """One recipient's email; the same (newsletter, recipient) always has the same Message-ID."""
    chunk = envelope.payload
    message = EmailMessage()
    message["From"] = deps.mail_from
    message["To"] = recipient.email
    message["Subject"] = chunk.subject
    message["Message-ID"] = message_id(chunk, recipient)
    # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs here.
    message["List-Unsubscribe"] = f"<{recipient.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Precedence"] = "bulk"
    message[CORRELATION_HEADER] = envelope.correlation_id
    message.set_content(
        f"{chunk.body}\n\n-- \nTo stop receiving these emails: {recipient.unsubscribe_url}\n"
    )
    return message


def message_id(chunk: NewsletterChunkReady, recipient: NewsletterRecipient) -> str:
    return f"<newsletter-{chunk.newsletter_id}-{recipient.user_id}@{MESSAGE_ID_DOMAIN}>"
