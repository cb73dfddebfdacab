"""Events about newsletters: a batch of recipients is ready, and the worker sent it.

A newsletter is written by the web as chunks of at most
``MAX_CHUNK_RECIPIENTS`` recipients, one ``newsletter.chunk_ready.v1`` each,
in the transaction that created it; the worker answers each chunk with one
``newsletter.chunk_sent.v1`` once every recipient in it was sent or refused.
No secret travels: the unsubscribe URL is built and signed by the web.
"""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, PositiveInt
from shared_contracts.events.base import Event

#: The most recipients one chunk carries (keeps each message small and each
#: redelivery cheap).
MAX_CHUNK_RECIPIENTS = 100
MAX_SUBJECT_LENGTH = 200
MAX_BODY_LENGTH = 50_000
#: A subject is one line of text: no line break (nor NUL) may reach an email header.
SUBJECT_PATTERN = r"^[^\r\n\x00]*$"


class NewsletterRecipient(BaseModel):
    """One recipient of a chunk: who, where, and their signed opt-out link."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: PositiveInt
    email: EmailStr
    #: An absolute URL that opts this user out without logging in (signed by the web).
    unsubscribe_url: Annotated[str, Field(min_length=1, max_length=2048)]


class NewsletterChunkReady(Event):
    """A chunk of a newsletter's recipients is ready to be sent.

    Emitted: once per chunk, when the transaction that created the newsletter
    commits. Key fields: ``newsletter_id`` and ``chunk`` (0-based). The
    recipients were fixed when the newsletter was created.
    """

    event_type: ClassVar[str] = "newsletter.chunk_ready.v1"
    schema_version: ClassVar[int] = 1

    newsletter_id: uuid.UUID
    chunk: Annotated[int, Field(ge=0)]
    #: One line (it becomes the Subject header).
    subject: Annotated[
        str, Field(min_length=1, max_length=MAX_SUBJECT_LENGTH, pattern=SUBJECT_PATTERN)
    ]
    body: Annotated[str, Field(min_length=1, max_length=MAX_BODY_LENGTH)]
    recipients: Annotated[
        list[NewsletterRecipient], Field(min_length=1, max_length=MAX_CHUNK_RECIPIENTS)
    ]


class NewsletterChunkSent(Event):
    """Every recipient of a chunk was either sent the newsletter or refused by the mail server.

    Emitted: by the worker, once it has an outcome for each recipient of
    the chunk (a redelivered chunk reports the same counts again, with the
    same event id). Key fields: ``newsletter_id`` and ``chunk``.
    """

    event_type: ClassVar[str] = "newsletter.chunk_sent.v1"
    schema_version: ClassVar[int] = 1

    newsletter_id: uuid.UUID
    chunk: Annotated[int, Field(ge=0)]
    #: Recipients the mail server accepted the newsletter for.
    sent: Annotated[int, Field(ge=0, le=MAX_CHUNK_RECIPIENTS)]
    #: Recipients the mail server refused for good (a 5xx for that address).
    failed: Annotated[int, Field(ge=0, le=MAX_CHUNK_RECIPIENTS)]
