"""Documents: the streaming summary, its refusals with a reason, and the handler's answer."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from courier_worker.document_summary import DocumentRejected, summarise
from courier_worker.handlers import Dependencies
from courier_worker.handlers.documents import summarise_document
from courier_worker.storage import LocalStorage
from shared_contracts import Envelope, new_envelope
from shared_contracts.events.documents import DocumentFailed, DocumentProcessed, DocumentUploaded

from tests.fakes import FakeMailer


def summary_of(data: bytes) -> Any:
    return summarise(io.BytesIO(data))


def rejection(data: bytes) -> str:
    with pytest.raises(DocumentRejected) as refused:
        summarise(io.BytesIO(data))
    return str(refused.value)


def test_columns_get_a_type_and_a_null_count() -> None:
    data = (
        b"id,price,day,name,empty\r\n"
        b"1,2.50,2026-01-31,Ada,\r\n"
        b"2,3,2026-02-01,,\r\n"
        b'3,-1e3,2026-02-02,"Lin, ""the"" second",\r\n'
    )
    summary = summary_of(data)
    assert summary.rows == 3
    assert [(c.name, c.type, c.nulls) for c in summary.columns] == [
        ("id", "integer", 0),
        ("price", "decimal", 0),
        ("day", "date", 0),
        ("name", "text", 1),
        ("empty", None, 3),
    ]
    assert summary.invalid_line_count == 0


def test_a_mixed_column_is_text_and_a_bad_date_is_text() -> None:
    summary = summary_of(b"a,b\n1,2026-02-30\nx,2026-01-01\n")
    assert [c.type for c in summary.columns] == ["text", "text"]


def test_a_few_short_or_long_lines_are_listed_with_their_numbers() -> None:
    rows = ["a,b,c"] + [f"{n},{n},{n}" for n in range(40)]
    rows[5] = "1,2"
    rows[9] = "1,2,3,4"
    summary = summary_of(("\n".join(rows) + "\n").encode())
    assert summary.rows == 38
    assert summary.invalid_line_count == 2
    assert summary.invalid_lines == [
        (6, "2 fields where the header has 3"),
        (10, "4 fields where the header has 3"),
    ]


def test_a_quoted_newline_keeps_the_line_numbers_true() -> None:
    summary = summary_of(b'a,b\n"multi\nline",1\nbad\n' + b"x,1\n" * 20)
    assert summary.rows == 21
    assert summary.invalid_lines == [(4, "1 fields where the header has 2")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty document"),
        (b"\n\n", "empty document"),
        (b"a,b,c\n", "a header line and no rows"),
        (b"a,b\n1,2\n\x00\x01\x02binary", "binary content: a NUL byte at byte 9"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content"),
        ("name\nJosé\n".encode("latin-1"), "not UTF-8: invalid byte at byte 9"),
        (b'a,b\n"unterminated,1\n2,3\n', "malformed CSV"),
        (b"a,b,c\n1\n2\n3\n4,5,6\n", "ragged CSV: 3 of 4 lines"),
    ],
)
def test_what_cannot_be_summarised_fails_with_a_reason(data: bytes, reason: str) -> None:
    assert reason in rejection(data)


def test_a_byte_order_mark_is_not_part_of_the_first_column() -> None:
    assert summary_of("\ufeffid\n1\n".encode()).columns[0].name == "id"


def test_a_multibyte_character_cut_by_a_chunk_is_read_whole() -> None:
    cell = "é" * 40_000  # 80,000 bytes: crosses the 64 KiB chunk boundary mid-character
    summary = summary_of(f"name\n{cell}\n".encode())
    assert summary.rows == 1


def test_a_10_mib_document_is_summarised_in_bounded_memory(tmp_path: Path) -> None:
    """Peak RSS of a process summarising 10 MiB stays far below the file's size."""
    document = tmp_path / "big.csv"
    with document.open("w", encoding="utf-8") as out:
        out.write("id,amount,day,comment\n")
        n = 0
        while out.tell() < 10 * 1024 * 1024:
            out.write(f"{n},{n}.25,2026-03-{n % 28 + 1:02d},row number {n} of many\n")
            n += 1
    script = textwrap.dedent(
        f"""
        import resource, sys
        from courier_worker.document_summary import summarise
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open({str(document)!r}, "rb") as stream:
            summary = summarise(stream)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(summary.rows, after - before)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    rows, grown_kib = map(int, result.stdout.split())
    assert rows == n
    # Reading it whole would add at least 10 MiB (as bytes; far more as rows).
    assert grown_kib < 3 * 1024, f"peak RSS grew by {grown_kib} KiB"


class FakeResults:
    def __init__(self) -> None:
        self.published: list[Envelope[Any]] = []

    def publish(self, envelope: Envelope[Any]) -> None:
        self.published.append(envelope)


def upload(storage: LocalStorage, data: bytes) -> Envelope[DocumentUploaded]:
    document_id = uuid.uuid4()
    reference = f"documents/{document_id}.csv"
    with storage.writer(reference) as out:
        out.write(data)
    return new_envelope(
        DocumentUploaded(
            document_id=document_id,
            reference=reference,
            size_bytes=len(data),
            sha256="0" * 64,
            uploaded_by=1,
        ),
        producer="courier-web",
        correlation_id="req-doc",
    )


def test_the_handler_emits_the_summary_or_the_reason(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    results = FakeResults()
    deps = Dependencies(
        mailer=FakeMailer(), mail_from="x@example.com", results=results, storage=storage
    )

    good = upload(storage, b"a,b\n1,x\n,y\n")
    summarise_document(good, deps)
    bad = upload(storage, b"")
    summarise_document(bad, deps)

    processed, failed = (envelope.payload for envelope in results.published)
    assert isinstance(processed, DocumentProcessed)
    assert processed.document_id == good.payload.document_id
    assert processed.rows == 2
    assert [(c.name, c.type, c.nulls) for c in processed.columns] == [
        ("a", "integer", 1),
        ("b", "text", 0),
    ]
    assert isinstance(failed, DocumentFailed)
    assert "empty document" in failed.reason
    assert results.published[0].correlation_id == "req-doc"
