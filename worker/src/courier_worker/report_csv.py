"""Reports as CSV files: written row by row, counted and hashed on the way out."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import BinaryIO

from courier_worker.read_model import DirectoryUser

__all__ = ["SIGNUPS_HEADER", "WrittenFile", "text_cell", "write_signups"]

SIGNUPS_HEADER = ("user_id", "email", "display_name", "registered_at")
#: A cell starting with one of these is a formula to a spreadsheet (CSV injection:
#: a display name "=HYPERLINK(...)" would run when the report is opened).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it as text: a leading quote before a formula start."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


@dataclass(frozen=True)
class WrittenFile:
    """What a written file is: rows, bytes and its SHA-256 (hex)."""

    row_count: int
    size_bytes: int
    sha256: str


def write_signups(users: Iterable[DirectoryUser], out: BinaryIO) -> WrittenFile:
    """One row per user (id, email, display name, registration time in UTC, ISO 8601).

    Streams: one row in memory at a time, whatever the number of users.
    """
    digest = hashlib.sha256()
    size = 0
    rows = 0
    line = io.StringIO()
    writer = csv.writer(line, lineterminator="\r\n")

    def flush() -> None:
        nonlocal size
        data = line.getvalue().encode("utf-8")
        line.seek(0)
        line.truncate()
        out.write(data)
        digest.update(data)
        size += len(data)

    writer.writerow(SIGNUPS_HEADER)
    flush()
    for user in users:
        registered = user.registered_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        writer.writerow(
            (user.user_id, text_cell(user.email), text_cell(user.display_name), registered)
        )
        flush()
        rows += 1
    return WrittenFile(row_count=rows, size_bytes=size, sha256=digest.hexdigest())
