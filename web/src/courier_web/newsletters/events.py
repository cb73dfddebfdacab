"""The events a newsletter emits (imported by the outbox app).

``newsletter.chunk_ready.v1``: one per chunk, when the newsletter's
transaction commits (the chunks are written with ``evented_bulk_create``).
"""

from __future__ import annotations

from django.db.models.signals import post_save
from shared_contracts.events.newsletters import NewsletterChunkReady

from courier_web.newsletters.models import NewsletterChunk
from courier_web.outbox import emits


def _chunk_ready(chunk: NewsletterChunk, **_: object) -> NewsletterChunkReady:
    recipients = getattr(chunk, "recipients", None)
    if not recipients:
        raise ValueError(f"{chunk}: created without its recipients (use newsletter_send)")
    newsletter = chunk.newsletter  # the instance the service built: no query
    return NewsletterChunkReady(
        newsletter_id=newsletter.pk,
        chunk=chunk.number,
        subject=newsletter.subject,
        body=newsletter.body,
        recipients=recipients,
    )


emits(
    NewsletterChunkReady,
    on=post_save,
    sender=NewsletterChunk,
    when=lambda chunk, created, **_: created,
    build=_chunk_ready,
)
