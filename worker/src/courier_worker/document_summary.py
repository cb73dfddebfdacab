"""Summarising a CSV document as a stream: never more than a line (and a chunk) in memory.

The first line is the header. Every later line is a row, or an invalid line
(a row whose number of fields differs from the header's). Each column's type
is inferred from its non-empty cells: ``integer`` if all are integers,
``decimal`` if all are numbers with a fraction (or integers), ``date`` if
all are ISO dates (``YYYY-MM-DD``), else ``text``; a column with no value
at all is ``text``. Empty cells are counted as nulls.

A document fails, with a reason a person can act on, when it is empty, has
binary content (a NUL byte), is not UTF-8, is malformed CSV (an unterminated
quote) or is ragged: more than ``MAX_INVALID_RATIO`` of its lines are invalid.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO, Literal

__all__ = [
    "MAX_INVALID_RATIO",
    "ColumnStats",
    "DocumentRejected",
    "Summary",
    "summarise",
]

#: Listed invalid lines at most (all are counted).
MAX_LISTED = 100
#: A document with more invalid lines than this share of its lines is ragged: failed.
MAX_INVALID_RATIO = 0.1
#: Columns at most (a header wider than this is refused).
MAX_COLUMNS = 1000
#: Bytes read at a time.
CHUNK_BYTES = 64 * 1024
#: A single field longer than this is refused (a runaway quote, say)...
MAX_FIELD_CHARS = 1024 * 1024
#: ...and so is a line: what is held in memory stays bounded, whatever the file.
MAX_LINE_CHARS = 1024 * 1024

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

ColumnType = Literal["integer", "decimal", "date", "text"]


class DocumentRejected(Exception):
    """The document cannot be summarised; ``str()`` is the reason, for people."""


@dataclass
class ColumnStats:
    name: str
    nulls: int = 0
    #: The narrowest type that fits every value seen so far (None: no value yet).
    type: ColumnType | None = None

    def add(self, value: str) -> None:
        if value.strip() == "":
            self.nulls += 1
            return
        if self.type == "text":
            return
        seen = _kind(value.strip())
        if self.type is None or self.type == seen:
            self.type = seen
        elif {self.type, seen} == {"integer", "decimal"}:
            self.type = "decimal"
        else:
            self.type = "text"


@dataclass
class Summary:
    rows: int = 0
    columns: list[ColumnStats] = field(default_factory=list)
    invalid_line_count: int = 0
    invalid_lines: list[tuple[int, str]] = field(default_factory=list)


def _kind(value: str) -> ColumnType:
    if _INTEGER.match(value):
        return "integer"
    if _DECIMAL.match(value):
        return "decimal"
    if _DATE.match(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            return "text"
        return "date"
    return "text"


def _text_lines(stream: BinaryIO) -> Iterator[str]:
    """The document as text, line by line (``\\n`` kept), decoded incrementally (strict UTF-8)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    offset = 0
    pending = ""
    while True:
        chunk = stream.read(CHUNK_BYTES)
        final = not chunk
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise DocumentRejected(
                f"binary content: a NUL byte at byte {offset + nul + 1}, not a text CSV file"
            )
        try:
            text = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            raise DocumentRejected(
                f"not UTF-8: invalid byte at byte {offset + exc.start + 1} (save the file as UTF-8)"
            ) from None
        offset += len(chunk)
        # Only a line feed ends a line here; the csv module handles CR LF and quoted newlines.
        *lines, pending = (pending + text).split("\n")
        if len(pending) > MAX_LINE_CHARS:
            raise DocumentRejected(f"a line longer than {MAX_LINE_CHARS} characters")
        for line in lines:
            yield line + "\n"
        if final:
            if pending:
                yield pending
            return


def summarise(stream: BinaryIO) -> Summary:
    """The document's summary; ``DocumentRejected`` with the reason when it cannot be read."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(_text_lines(stream), strict=True)
    summary = Summary()
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise DocumentRejected("empty document: no header line")
        if len(header) > MAX_COLUMNS:
            raise DocumentRejected(f"{len(header)} columns, more than {MAX_COLUMNS}")
        summary.columns = [ColumnStats(name=name.strip()[:256]) for name in header]
        width = len(header)
        for row in reader:
            line = reader.line_num
            if not row:
                continue  # a blank line separates nothing: not a row, not an error
            if len(row) != width:
                summary.invalid_line_count += 1
                if len(summary.invalid_lines) < MAX_LISTED:
                    summary.invalid_lines.append(
                        (line, f"{len(row)} fields where the header has {width}")
                    )
                continue
            summary.rows += 1
            for column, value in zip(summary.columns, row, strict=True):
                column.add(value)
    except csv.Error as exc:
        raise DocumentRejected(f"malformed CSV at line {reader.line_num}: {exc}") from None
    lines = summary.rows + summary.invalid_line_count
    if summary.rows == 0 and summary.invalid_line_count == 0:
        raise DocumentRejected("empty document: a header line and no rows")
    if summary.invalid_line_count > MAX_INVALID_RATIO * lines:
        first = summary.invalid_lines[0][0]
        raise DocumentRejected(
            f"ragged CSV: {summary.invalid_line_count} of {lines} lines do not have the "
            f"header's {len(summary.columns)} fields (first at line {first})"
        )
    return summary
