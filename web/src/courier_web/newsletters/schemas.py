"""The newsletters API's request and response shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field
from shared_contracts.events.newsletters import (
    MAX_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    SUBJECT_PATTERN,
)

from courier_web.api.text import NoNul


class NewsletterCreateIn(Schema):
    """A newsletter's text; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    subject: Annotated[
        str, Field(min_length=1, max_length=MAX_SUBJECT_LENGTH, pattern=SUBJECT_PATTERN)
    ]
    body: Annotated[str, Field(min_length=1, max_length=MAX_BODY_LENGTH), NoNul]


class NewsletterAcceptedOut(Schema):
    id: uuid.UUID
    #: ``completed`` at once when nobody is to receive it.
    status: Literal["sending", "completed"]
    total: int


class NewsletterOut(Schema):
    """A newsletter and how far its sending got."""

    id: uuid.UUID
    subject: str
    status: Literal["sending", "completed"]
    total: int
    sent: int
    failed: int
    created_at: datetime
    finished_at: datetime | None = None


class UnsubscribedOut(Schema):
    unsubscribed: Literal[True]
