"""A newsletter, its recipients' chunks, and how far the sending got."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from shared_contracts.events.newsletters import NewsletterRecipient

from courier_web.outbox.guard import EventedManager


class Newsletter(models.Model):
    """One newsletter; its counts are the sums of its chunks' reports."""

    class Status(models.TextChoices):
        SENDING = "sending"
        #: Every recipient was sent the newsletter or refused by the mail server.
        COMPLETED = "completed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    # Kept when its author's account goes: the newsletter was sent to others.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.PositiveIntegerField()
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "newsletters_newsletter"

    def __str__(self) -> str:
        return f"newsletter {self.id} ({self.status}, {self.sent + self.failed}/{self.total})"


class NewsletterChunk(models.Model):
    """A bounded batch of a newsletter's recipients: one newsletter.chunk_ready.v1 each.

    The recipients themselves (ids, addresses, unsubscribe links) are not
    stored here: they travel in the chunk's event, and ``recipients`` holds
    them on the instance only until that event is written. An address is so
    kept in one place, the user's row.
    """

    newsletter = models.ForeignKey(Newsletter, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    # The last counts the worker reported for this chunk (a report replaces them).
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    reported_at = models.DateTimeField(null=True, blank=True)

    # Its creation emits newsletter.chunk_ready.v1: bulk writes must go the evented way.
    objects = EventedManager["NewsletterChunk"]()

    #: Set by the service that creates the chunk, read when its event is built; not a column.
    recipients: list[NewsletterRecipient]

    class Meta:
        db_table = "newsletters_chunk"
        constraints = [
            models.UniqueConstraint(fields=["newsletter", "number"], name="newsletters_chunk_once")
        ]

    def __str__(self) -> str:
        return f"chunk {self.number} of newsletter {self.newsletter_id}"
