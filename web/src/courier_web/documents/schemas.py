"""The documents API's response shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from ninja import Schema


class DocumentAcceptedOut(Schema):
    id: uuid.UUID
    status: Literal["pending"]


class DocumentOut(Schema):
    """A document and what became of it: the summary once processed, the reason once failed.

    ``summary``: ``rows``, ``columns`` (``name``, ``type``: integer, decimal,
    date or text, ``nulls``), ``invalid_line_count`` and ``invalid_lines``
    (``line``, ``reason``; at most 100 listed).
    """

    id: uuid.UUID
    filename: str
    size_bytes: int
    sha256: str
    status: Literal["pending", "processed", "failed"]
    summary: dict[str, Any] | None = None
    reason: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
