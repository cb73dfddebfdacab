"""Sending a newsletter: fix its recipients and write its chunks' events, in one transaction."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from shared_contracts.events.newsletters import MAX_CHUNK_RECIPIENTS, NewsletterRecipient

from courier_web.newsletters.models import Newsletter, NewsletterChunk
from courier_web.newsletters.unsubscribe import unsubscribe_url
from courier_web.outbox import evented_bulk_create
from courier_web.users.models import User


def chunk_size() -> int:
    return max(1, min(int(settings.NEWSLETTER_CHUNK_SIZE), MAX_CHUNK_RECIPIENTS))


@transaction.atomic
def newsletter_send(*, author: User, subject: str, body: str) -> Newsletter:
    """Create the newsletter for the active users who have not opted out, as of now.

    The recipients are read in the transaction that writes the newsletter and
    its newsletter.chunk_ready.v1 events (at most ``NEWSLETTER_CHUNK_SIZE``
    recipients each): someone who registers or opts out afterwards does not
    change who gets it. With no recipient it is completed at once.
    """
    recipients = list(
        User.objects.filter(is_active=True, newsletter_opt_in=True)
        .order_by("pk")
        .values_list("pk", "email")
    )
    newsletter = Newsletter.objects.create(
        subject=subject,
        body=body,
        created_by=author,
        total=len(recipients),
        status=Newsletter.Status.SENDING if recipients else Newsletter.Status.COMPLETED,
        finished_at=None if recipients else timezone.now(),
    )
    size = chunk_size()
    chunks = []
    for number, start in enumerate(range(0, len(recipients), size)):
        part = recipients[start : start + size]
        chunk = NewsletterChunk(newsletter=newsletter, number=number, size=len(part))
        chunk.recipients = [
            NewsletterRecipient(user_id=pk, email=email, unsubscribe_url=unsubscribe_url(pk))
            for pk, email in part
        ]
        chunks.append(chunk)
    evented_bulk_create(NewsletterChunk, chunks)
    return newsletter


def newsletter_opt_out(*, user_id: int) -> bool:
    """Opt the user out of newsletters; False when there is no such user (deleted since)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    if user.newsletter_opt_in:
        user.newsletter_opt_in = False
        user.save(update_fields=["newsletter_opt_in"])
    return True
