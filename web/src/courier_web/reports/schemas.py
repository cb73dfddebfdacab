"""The reports API's request and response shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field


class ReportCreateIn(Schema):
    """What report, over which UTC days (both included); unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kind: Literal["signups"]
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")


class ReportAcceptedOut(Schema):
    id: uuid.UUID
    status: Literal["pending"]


class ReportOut(Schema):
    """A report and what became of it; counts once it is completed, a reason once it failed."""

    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    kind: str
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    status: Literal["pending", "completed", "failed"]
    row_count: int | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    reason: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
