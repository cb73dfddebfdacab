from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path

import pytest
from courier_worker.handlers import Dependencies
from courier_worker.handlers.users import send_welcome_email
from courier_worker.idempotency import IdempotencyGuard, Outcome
from courier_worker.store import SqlHandledEvents, make_engine
from shared_contracts import Envelope, UserRegistered
from sqlalchemy import event

from tests.fakes import FailingMailer, FakeHandledEvents, FakeMailer


def test_second_delivery_sends_nothing(registration: Envelope[UserRegistered]) -> None:
    mailer, guard = FakeMailer(), IdempotencyGuard(FakeHandledEvents())
    deps = Dependencies(mailer=mailer, mail_from="a@b.invalid")
    handle = partial(send_welcome_email, registration, deps)
    assert guard.run(registration, handle) is Outcome.HANDLED
    assert guard.run(registration, handle) is Outcome.DUPLICATE
    assert len(mailer.sent) == 1


def test_failed_side_effect_is_not_recorded(registration: Envelope[UserRegistered]) -> None:
    store = FakeHandledEvents()
    guard = IdempotencyGuard(store)
    failing = Dependencies(mailer=FailingMailer(), mail_from="a@b.invalid")
    with pytest.raises(ConnectionRefusedError):
        guard.run(registration, partial(send_welcome_email, registration, failing))
    assert not store.is_handled(registration.event_id)
    mailer = FakeMailer()
    working = Dependencies(mailer=mailer, mail_from="a@b.invalid")
    assert guard.run(registration, partial(send_welcome_email, registration, working)) == "handled"
    assert len(mailer.sent) == 1


def test_sql_store_records_once(tmp_path: Path) -> None:
    store = SqlHandledEvents(make_engine(f"sqlite:///{tmp_path / 'db' / 'w.sqlite3'}"))
    store.create_schema()
    store.create_schema()  # idempotent
    event_id = uuid.uuid4()
    assert not store.is_handled(event_id)
    with store.claim(event_id, "user.registered.v1") as owned:
        assert owned is True
        assert not store.is_handled(event_id)  # recorded only once the effect happened
    assert store.is_handled(event_id)
    with store.claim(event_id, "user.registered.v1") as owned:
        assert owned is False


def test_sql_store_failed_claim_leaves_no_record(tmp_path: Path) -> None:
    store = SqlHandledEvents(make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}"))
    store.create_schema()
    event_id = uuid.uuid4()
    with pytest.raises(ConnectionRefusedError), store.claim(event_id, "user.registered.v1"):
        raise ConnectionRefusedError("SMTP down")
    assert not store.is_handled(event_id)
    with store.claim(event_id, "user.registered.v1") as owned:
        assert owned is True


def test_sql_store_drives_the_guard(tmp_path: Path, registration: Envelope[UserRegistered]) -> None:
    store = SqlHandledEvents(make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}"))
    store.create_schema()
    mailer = FakeMailer()
    deps = Dependencies(mailer=mailer, mail_from="a@b.invalid")
    for _ in range(3):
        IdempotencyGuard(store).run(registration, partial(send_welcome_email, registration, deps))
    assert len(mailer.sent) == 1


def test_a_delivery_is_one_statement_and_the_claim_tells_a_duplicate(
    tmp_path: Path, registration: Envelope[UserRegistered]
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    store = SqlHandledEvents(engine)
    store.create_schema()
    traced: list[str] = []
    # What reaches SQLite itself (the claim bypasses SQLAlchemy's execution events).
    event.listen(engine, "connect", lambda dbapi, _: dbapi.set_trace_callback(traced.append))
    engine.dispose()  # connections opened from now on are traced
    guard = IdempotencyGuard(store)
    assert guard.run(registration, lambda: None) is Outcome.HANDLED
    assert guard.run(registration, lambda: None) is Outcome.DUPLICATE
    # No read before the claim: each delivery runs only the INSERT .. RETURNING
    # (besides the transaction's BEGIN and COMMIT/ROLLBACK and connection set-up).
    control = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")
    statements = [s for s in traced if not s.lstrip().upper().startswith(control)]
    assert len(statements) == 2, traced
    assert all(s.lstrip().upper().startswith("INSERT") for s in statements)
    assert all("RETURNING" in s.upper() for s in statements)
