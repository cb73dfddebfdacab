"""Reports: the CSV written from the read model, stored, and the result event emitted."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from courier_worker.handlers import Dependencies
from courier_worker.handlers.reports import generate_report
from courier_worker.read_model import UserDirectory, use_user_directory
from courier_worker.report_csv import text_cell
from courier_worker.storage import LocalStorage, StorageError, make_storage
from courier_worker.store import make_engine
from shared_contracts import Envelope, UserRegistered, new_envelope
from shared_contracts.events.reports import ReportCompleted, ReportFailed, ReportRequested

from tests.fakes import FakeMailer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeResults:
    def __init__(self) -> None:
        self.published: list[Envelope[Any]] = []

    def publish(self, envelope: Envelope[Any]) -> None:
        self.published.append(envelope)


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[UserDirectory]:
    directory = UserDirectory(make_engine(f"sqlite:///{tmp_path / 'read.sqlite3'}"))
    with use_user_directory(directory):
        yield directory


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def request(date_from: date, date_to: date) -> Envelope[ReportRequested]:
    return new_envelope(
        ReportRequested(
            report_id=uuid.uuid4(),
            kind="signups",
            date_from=date_from,
            date_to=date_to,
            requested_by=1,
        ),
        producer="courier-web",
        correlation_id="req-report",
    )


def deps(results: FakeResults, storage: LocalStorage) -> Dependencies:
    return Dependencies(
        mailer=FakeMailer(), mail_from="x@example.com", results=results, storage=storage
    )


def test_a_report_lists_the_signups_of_its_range_and_says_so(
    directory: UserDirectory, storage: LocalStorage
) -> None:
    for user_id in range(1, 6):
        directory.apply_registered(
            new_envelope(
                UserRegistered(
                    user_id=user_id, email=f"u{user_id}@example.com", display_name=f"U, {user_id}"
                ),
                producer="courier-web",
                correlation_id="r",
                occurred_at=T0 + timedelta(days=user_id - 1),
            )
        )
    results = FakeResults()
    event = request(date(2026, 3, 2), date(2026, 3, 4))
    generate_report(event, deps(results, storage))

    [published] = results.published
    completed = published.payload
    assert isinstance(completed, ReportCompleted)
    assert published.correlation_id == "req-report"
    data = storage.path(completed.reference).read_bytes()
    assert completed.size_bytes == len(data)
    assert completed.sha256 == hashlib.sha256(data).hexdigest()
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["user_id", "email", "display_name", "registered_at"]
    assert rows[1:] == [
        ["2", "u2@example.com", "U, 2", "2026-03-02T12:00:00Z"],
        ["3", "u3@example.com", "U, 3", "2026-03-03T12:00:00Z"],
        ["4", "u4@example.com", "U, 4", "2026-03-04T12:00:00Z"],
    ]
    assert completed.row_count == 3

    # The same request handled again (a redelivery) emits the same event again.
    generate_report(event, deps(results, storage))
    assert results.published[1].event_id == published.event_id
    assert results.published[1].payload == completed


@pytest.mark.parametrize(
    ("date_from", "date_to", "reason"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "starts after it ends"),
        (date(2025, 1, 1), date(2026, 1, 2), "more than 366 days"),
    ],
)
def test_a_range_the_worker_cannot_serve_fails_the_report(
    directory: UserDirectory, storage: LocalStorage, date_from: date, date_to: date, reason: str
) -> None:
    results = FakeResults()
    generate_report(request(date_from, date_to), deps(results, storage))
    [published] = results.published
    assert isinstance(published.payload, ReportFailed)
    assert reason in published.payload.reason


def test_local_storage_refuses_references_outside_it(storage: LocalStorage) -> None:
    for bad in ("../etc/passwd", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(StorageError):
            storage.path(bad)


def test_a_failed_write_leaves_no_object(storage: LocalStorage) -> None:
    def half_write() -> None:
        with storage.writer("reports/x.csv") as out:
            out.write(b"half")
            raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        half_write()
    assert not storage.path("reports/x.csv").exists()
    assert list((storage.root / "reports").iterdir()) == []
    with pytest.raises(StorageError):
        storage.reader("reports/x.csv").__enter__()


def test_storage_url_names_a_folder(tmp_path: Path) -> None:
    folder = make_storage(f"file://{tmp_path}/s")
    assert isinstance(folder, LocalStorage)
    assert folder.root == tmp_path / "s"
    assert isinstance(make_storage(str(tmp_path)), LocalStorage)
    with pytest.raises(ValueError, match="unsupported scheme"):
        make_storage("ftp://example.com/x")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Ada Lovelace", "Ada Lovelace"),
        ("a=b@example.com", "a=b@example.com"),
        ("", ""),
    ],
)
def test_a_text_cell_never_starts_a_formula(value: str, cell: str) -> None:
    assert text_cell(value) == cell
