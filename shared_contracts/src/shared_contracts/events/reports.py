"""Events about reports: a user asked for one, and the worker made it (or could not)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import Field, PositiveInt
from shared_contracts.events.base import Event

#: Where a stored file is, as the storage both services share names it (never a URL).
StorageReference = Annotated[
    str, Field(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9._/-]+$")
]
#: A SHA-256 digest, lower-case hex.
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: Why something failed, for people (no personal data).
Reason = Annotated[str, Field(min_length=1, max_length=1000)]

#: The longest range a report may cover, in days (both ends included).
MAX_REPORT_DAYS = 366


class ReportRequested(Event):
    """A user asked for a report.

    Emitted: once per report, when the transaction that recorded the request
    commits. Key field: ``report_id`` (the web's id for the report).
    ``date_from`` and ``date_to`` are UTC days, both included; the web accepts
    at most ``MAX_REPORT_DAYS`` of them, ``date_from`` first (a consumer that
    gets another range fails the report rather than trusting it).
    """

    event_type: ClassVar[str] = "report.requested.v1"
    schema_version: ClassVar[int] = 1

    report_id: uuid.UUID
    kind: Literal["signups"]
    date_from: date
    date_to: date
    #: The web's id of the user who asked for it.
    requested_by: PositiveInt


class ReportCompleted(Event):
    """A requested report was generated and stored.

    Emitted: when the worker has stored the report's file. Key field:
    ``report_id``. A report may complete more than once if its request is
    delivered again (same content, same checksum); consumers keep the first.
    """

    event_type: ClassVar[str] = "report.completed.v1"
    schema_version: ClassVar[int] = 1

    report_id: uuid.UUID
    #: The stored file, as the shared storage names it.
    reference: StorageReference
    #: Data rows in the file (the header line not counted).
    row_count: Annotated[int, Field(ge=0)]
    size_bytes: Annotated[int, Field(ge=0)]
    sha256: Sha256
    content_type: Literal["text/csv"] = "text/csv"


class ReportFailed(Event):
    """A requested report could not be generated. Key field: ``report_id``."""

    event_type: ClassVar[str] = "report.failed.v1"
    schema_version: ClassVar[int] = 1

    report_id: uuid.UUID
    reason: Reason
