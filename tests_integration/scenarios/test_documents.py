"""Documents end to end: uploaded to the web, read by the worker from the shared storage,
streaming, its summary (or why there is none) shown by the web."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest

from ..support.clients import WebClient
from ..support.containers import Consumer
from ..support.polling import wait_until
from ..support.stack import Stack

PASSWORD = "correct-horse-9"
FIVE_MIB = 5 * 1024 * 1024


@pytest.fixture(autouse=True)
def consumer(stack: Stack) -> Consumer:
    """The web's consumer applies the results these tests wait for."""
    return stack.ensure_consumer()


def upload(web: WebClient, token: str, data: bytes, name: str = "data.csv") -> str:
    answer = web.call(
        "POST", "/api/documents", token=token, files={"file": (name, io.BytesIO(data), "text/csv")}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "pending"
    return str(answer.json()["id"])


def settled(web: WebClient, token: str, document_id: str, timeout: float = 120) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        shown = web.call("GET", f"/api/documents/{document_id}", token=token)
        assert shown.status_code == 200, shown.text
        body: dict[str, Any] = shown.json()
        return body if body["status"] != "pending" else None

    return wait_until(done, timeout=timeout, what=f"document {document_id} to be settled")


def five_mib_csv() -> tuple[bytes, int, int, list[int]]:
    """A CSV of just over 5 MiB: its rows, empty amounts, and the lines made invalid."""
    rng = random.Random(7)
    out = io.StringIO()
    out.write("id,amount,day,note\r\n")
    rows = nulls = 0
    invalid: list[int] = []
    line = 1
    while out.tell() < FIVE_MIB:
        line += 1
        if line % 5000 == 0:
            out.write("just,two\r\n")
            invalid.append(line)
            continue
        amount = "" if rng.random() < 0.1 else f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}"
        nulls += amount == ""
        day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        out.write(f'{rows},{amount},{day},"n, {rows}"\r\n')
        rows += 1
    return out.getvalue().encode(), rows, nulls, invalid


def test_a_5_mib_csv_is_summarised(web: WebClient, domain: str) -> None:
    email = f"ada@{domain}"
    assert web.register(email, password=PASSWORD).status_code == 201
    token = web.token(email, PASSWORD)
    data, rows, nulls, invalid = five_mib_csv()
    assert len(data) > FIVE_MIB

    document = settled(web, token, upload(web, token, data))

    assert document["status"] == "processed", document
    assert document["size_bytes"] == len(data)
    summary = document["summary"]
    assert summary["rows"] == rows
    assert summary["columns"] == [
        {"name": "id", "type": "integer", "nulls": 0},
        {"name": "amount", "type": "decimal", "nulls": nulls},
        {"name": "day", "type": "date", "nulls": 0},
        {"name": "note", "type": "text", "nulls": 0},
    ]
    assert summary["invalid_line_count"] == len(invalid)
    assert [entry["line"] for entry in summary["invalid_lines"]] == invalid[:100]


def test_binary_empty_and_ragged_documents_fail_with_a_reason(web: WebClient, domain: str) -> None:
    email = f"lin@{domain}"
    assert web.register(email, password=PASSWORD).status_code == 201
    token = web.token(email, PASSWORD)
    cases = {
        "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary content"),
        "empty": (b"", "empty document"),
        "ragged": (b"a,b,c\n1,2\n3\n4,5,6,7\n8,9,10\n", "ragged CSV"),
        "latin-1": ("name\nJosé\n".encode("latin-1"), "not UTF-8"),
    }
    ids = {name: upload(web, token, data) for name, (data, _) in cases.items()}
    for name, (_, reason) in cases.items():
        document = settled(web, token, ids[name])
        assert document["status"] == "failed", (name, document)
        assert reason in document["reason"], (name, document["reason"])
        assert document["summary"] is None


def test_a_document_over_10_mib_is_a_413(web: WebClient, domain: str) -> None:
    email = f"max@{domain}"
    assert web.register(email, password=PASSWORD).status_code == 201
    token = web.token(email, PASSWORD)
    big = b"a\n" + b"1\n" * (5 * 1024 * 1024 + 10)
    answer = web.call(
        "POST",
        "/api/documents",
        token=token,
        files={"file": ("big.csv", io.BytesIO(big), "text/csv")},
    )
    assert answer.status_code == 413, answer.text

    def chunks() -> Any:
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=big.csv\r\n\r\n"
        for _ in range(11):
            yield b"1\n" * (512 * 1024)
        yield b"\r\n--b--\r\n"

    chunked = web.call(
        "POST",
        "/api/documents",
        token=token,
        data=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert chunked.status_code == 413, chunked.text
