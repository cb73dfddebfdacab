"""Events about uploaded documents: one was stored, and the worker summarised it (or could not)."""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from shared_contracts.events.base import Event
from shared_contracts.events.reports import Reason, Sha256, StorageReference

#: At most this many invalid lines are listed in a summary (all are counted).
MAX_LISTED_INVALID_LINES = 100


class DocumentUploaded(Event):
    """A user uploaded a CSV document, now in the shared storage.

    Emitted: once per document, when the transaction that recorded it
    commits. Key field: ``document_id``.
    """

    event_type: ClassVar[str] = "document.uploaded.v1"
    schema_version: ClassVar[int] = 1

    document_id: uuid.UUID
    reference: StorageReference
    size_bytes: Annotated[int, Field(ge=0)]
    sha256: Sha256
    #: The web's id of the user who uploaded it.
    uploaded_by: PositiveInt


class ColumnSummary(BaseModel):
    """One column of a document: its header, inferred type and empty cells."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(max_length=256)]
    type: Literal["integer", "decimal", "date", "text"]
    nulls: Annotated[int, Field(ge=0)]


class InvalidLine(BaseModel):
    """A line the worker could not read as a row of the document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line: PositiveInt
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class DocumentProcessed(Event):
    """An uploaded document was read to its end and summarised. Key field: ``document_id``."""

    event_type: ClassVar[str] = "document.processed.v1"
    schema_version: ClassVar[int] = 1

    document_id: uuid.UUID
    #: Data rows read (the header line not counted, invalid lines not counted).
    rows: Annotated[int, Field(ge=0)]
    columns: Annotated[tuple[ColumnSummary, ...], Field(max_length=1000)]
    invalid_line_count: Annotated[int, Field(ge=0)] = 0
    #: The first invalid lines, at most ``MAX_LISTED_INVALID_LINES``.
    invalid_lines: Annotated[
        tuple[InvalidLine, ...], Field(max_length=MAX_LISTED_INVALID_LINES)
    ] = ()


class DocumentFailed(Event):
    """An uploaded document could not be summarised (empty, binary, not UTF-8, ragged...).

    Key field: ``document_id``. ``reason`` says why, for people.
    """

    event_type: ClassVar[str] = "document.failed.v1"
    schema_version: ClassVar[int] = 1

    document_id: uuid.UUID
    reason: Reason
