"""Newsletters: each recipient once across redeliveries, refusals counted, one shared pace."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from courier_worker.handlers import Dependencies
from courier_worker.handlers.newsletters import send_newsletter_chunk
from courier_worker.newsletter_store import (
    NewsletterStore,
    newsletter_database_url,
    use_newsletter_store,
)
from courier_worker.pacing import SendPace
from courier_worker.settings import get_settings
from courier_worker.store import make_engine
from shared_contracts import Envelope, new_envelope
from shared_contracts.events.newsletters import (
    NewsletterChunkReady,
    NewsletterChunkSent,
    NewsletterRecipient,
)

from tests.fakes import FakeMailer


class FakeResults:
    def __init__(self) -> None:
        self.published: list[Envelope[Any]] = []

    def publish(self, envelope: Envelope[Any]) -> None:
        self.published.append(envelope)


class FlakyMailer(FakeMailer):
    """Accepts ``accept`` messages, then the server goes away."""

    def __init__(self, accept: int) -> None:
        super().__init__()
        self.accept = accept

    def send(self, message: EmailMessage) -> None:
        if len(self.sent) >= self.accept:
            raise smtplib.SMTPServerDisconnected("connection lost")
        super().send(message)


class RefusingMailer(FakeMailer):
    """Refuses the addresses in ``refused`` at RCPT TO with ``code``."""

    def __init__(self, refused: set[str], code: int) -> None:
        super().__init__()
        self.refused = refused
        self.code = code
        self.attempts: list[str] = []

    def send(self, message: EmailMessage) -> None:
        self.attempts.append(str(message["To"]))
        if message["To"] in self.refused:
            raise smtplib.SMTPRecipientsRefused({str(message["To"]): (self.code, b"no such user")})
        super().send(message)


@pytest.fixture(autouse=True)
def fast_pace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEWSLETTER_RATE_LIMIT", "10000")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[NewsletterStore]:
    store = NewsletterStore(make_engine(f"sqlite:///{tmp_path / 'newsletters.sqlite3'}"))
    with use_newsletter_store(store):
        yield store


def chunk(size: int = 3, newsletter_id: uuid.UUID | None = None) -> Envelope[NewsletterChunkReady]:
    recipients = [
        NewsletterRecipient(
            user_id=n,
            email=f"user{n}@example.com",
            unsubscribe_url=f"https://courier.example.org/api/newsletters/unsubscribe?token=t{n}",
        )
        for n in range(1, size + 1)
    ]
    return new_envelope(
        NewsletterChunkReady(
            newsletter_id=newsletter_id or uuid.uuid4(),
            chunk=0,
            subject="Spring news",
            body="Hello!",
            recipients=recipients,
        ),
        producer="courier-web",
        correlation_id="req-news",
    )


def deps(mailer: Any, results: FakeResults) -> Dependencies:
    return Dependencies(mailer=mailer, mail_from="news@courier.invalid", results=results)


def reported(results: FakeResults) -> list[tuple[int, int]]:
    payloads = [envelope.payload for envelope in results.published]
    assert all(isinstance(p, NewsletterChunkSent) for p in payloads)
    return [(p.sent, p.failed) for p in payloads]


def test_each_recipient_gets_one_email_with_a_working_unsubscribe_header(
    store: NewsletterStore,
) -> None:
    mailer, results = FakeMailer(), FakeResults()
    envelope = chunk()

    send_newsletter_chunk(envelope, deps(mailer, results))

    assert [m["To"] for m in mailer.sent] == [f"user{n}@example.com" for n in (1, 2, 3)]
    first = mailer.sent[0]
    newsletter_id = envelope.payload.newsletter_id
    assert first["Message-ID"] == f"<newsletter-{newsletter_id}-1@courier.invalid>"
    assert first["List-Unsubscribe"] == (
        "<https://courier.example.org/api/newsletters/unsubscribe?token=t1>"
    )
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["Subject"] == "Spring news"
    assert "token=t1" in first.get_content()
    assert reported(results) == [(3, 0)]
    assert results.published[0].correlation_id == "req-news"


def test_a_redelivered_chunk_sends_nobody_again_and_reports_the_same(
    store: NewsletterStore,
) -> None:
    mailer, results = FakeMailer(), FakeResults()
    envelope = chunk()

    send_newsletter_chunk(envelope, deps(mailer, results))
    send_newsletter_chunk(envelope, deps(mailer, results))

    assert len(mailer.sent) == 3
    assert reported(results) == [(3, 0), (3, 0)]
    # The same event both times: the web applies it once.
    assert results.published[0].event_id == results.published[1].event_id


def test_a_transient_failure_raises_and_the_retry_sends_only_the_rest(
    store: NewsletterStore,
) -> None:
    envelope, results = chunk(size=4), FakeResults()
    flaky = FlakyMailer(accept=2)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        send_newsletter_chunk(envelope, deps(flaky, results))
    assert results.published == []

    healthy = FakeMailer()
    send_newsletter_chunk(envelope, deps(healthy, results))
    assert [m["To"] for m in healthy.sent] == ["user3@example.com", "user4@example.com"]
    assert reported(results) == [(4, 0)]


def test_a_permanent_refusal_is_counted_failed_and_never_retried(
    store: NewsletterStore,
) -> None:
    envelope, results = chunk(), FakeResults()
    mailer = RefusingMailer({"user2@example.com"}, code=550)

    send_newsletter_chunk(envelope, deps(mailer, results))
    send_newsletter_chunk(envelope, deps(mailer, results))

    assert [m["To"] for m in mailer.sent] == ["user1@example.com", "user3@example.com"]
    assert mailer.attempts.count("user2@example.com") == 1
    assert reported(results) == [(2, 1), (2, 1)]


def test_a_permanent_refusal_at_the_end_of_data_is_counted_failed(
    store: NewsletterStore,
) -> None:
    class DataRefusing(FakeMailer):
        def send(self, message: EmailMessage) -> None:
            raise smtplib.SMTPDataError(554, b"message refused")

    results = FakeResults()
    send_newsletter_chunk(chunk(size=2), deps(DataRefusing(), results))
    assert reported(results) == [(0, 2)]


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPRecipientsRefused({"user1@example.com": (450, b"mailbox busy")}),
        smtplib.SMTPDataError(451, b"try again later"),
        smtplib.SMTPSenderRefused(550, b"sender refused", "news@courier.invalid"),
    ],
)
def test_anything_but_a_refused_recipient_is_retried(
    store: NewsletterStore, error: Exception
) -> None:
    class Failing(FakeMailer):
        def send(self, message: EmailMessage) -> None:
            raise error

    envelope, results = chunk(), FakeResults()
    with pytest.raises(type(error)):
        send_newsletter_chunk(envelope, deps(Failing(), results))
    assert results.published == []
    assert store.outcomes(envelope.payload.newsletter_id, [1, 2, 3]) == {}


def test_a_recipient_claimed_elsewhere_is_not_sent_again(store: NewsletterStore) -> None:
    envelope = chunk(size=1)
    newsletter_id = envelope.payload.newsletter_id
    with store.claim(newsletter_id, 1) as claim:
        assert claim is not None
        claim.record("sent")
    with store.claim(newsletter_id, 1) as again:
        assert again is None
    mailer, results = FakeMailer(), FakeResults()
    send_newsletter_chunk(envelope, deps(mailer, results))
    assert mailer.sent == []
    assert reported(results) == [(1, 0)]


def test_a_claim_that_raises_leaves_no_record(store: NewsletterStore) -> None:
    newsletter_id = uuid.uuid4()
    with pytest.raises(RuntimeError), store.claim(newsletter_id, 7):
        raise RuntimeError("worker died mid-send")
    assert store.outcomes(newsletter_id, [7]) == {}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_the_pace_spaces_every_taker_by_one_interval(store: NewsletterStore) -> None:
    clock = FakeClock()
    # Two workers' paces on one database: they share the slots.
    first = SendPace(store, "test", per_second=4, sleep=clock.sleep, clock=clock)
    second = SendPace(store, "test", per_second=4, sleep=clock.sleep, clock=clock)

    delays = [first.take(), second.take(), first.take(), second.take()]

    assert delays == [0.0, 0.25, 0.5, 0.75]


def test_an_idle_pace_saves_no_burst(store: NewsletterStore) -> None:
    clock = FakeClock()
    pace = SendPace(store, "test", per_second=2, sleep=clock.sleep, clock=clock)
    pace.wait()
    clock.now += 60  # a minute without sending
    delays = [pace.take(), pace.take()]
    assert delays == [0.0, 0.5]


def test_the_pace_sleeps_until_its_slot(store: NewsletterStore) -> None:
    clock = FakeClock()
    pace = SendPace(store, "test", per_second=10, sleep=clock.sleep, clock=clock)
    for _ in range(3):
        pace.wait()
    assert clock.slept == [0.1, 0.1]


def test_a_pace_needs_a_positive_rate(store: NewsletterStore) -> None:
    with pytest.raises(ValueError, match="positive"):
        SendPace(store, "test", per_second=0)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////w/var/worker.sqlite3", "sqlite:////w/var/worker-newsletters.sqlite3"),
        ("sqlite:////w/var/worker", "sqlite:////w/var/worker-newsletters"),
        ("postgresql+psycopg://u:p@db/worker", "postgresql+psycopg://u:p@db/worker"),
    ],
)
def test_on_sqlite_the_deliveries_have_a_file_of_their_own(url: str, expected: str) -> None:
    assert newsletter_database_url(url) == expected


def test_committed_as_sent_then_refused_is_recorded_failed(store: NewsletterStore) -> None:
    newsletter_id = uuid.uuid4()
    with store.claim(newsletter_id, 1) as claim:
        assert claim is not None
        claim.commit_sent()
        claim.record("failed")  # a 5xx after the final dot
    assert store.outcomes(newsletter_id, [1]) == {1: "failed"}


def test_committed_as_sent_then_a_transient_error_is_undone(store: NewsletterStore) -> None:
    newsletter_id = uuid.uuid4()

    def refused_after_the_dot() -> None:
        with store.claim(newsletter_id, 1) as claim:
            assert claim is not None
            claim.commit_sent()
            raise smtplib.SMTPDataError(451, b"try again later")

    with pytest.raises(smtplib.SMTPDataError):
        refused_after_the_dot()
    assert store.outcomes(newsletter_id, [1]) == {}
    with store.claim(newsletter_id, 1) as again:  # the retry owns it again
        assert again is not None
        again.record("sent")
    assert store.outcomes(newsletter_id, [1]) == {1: "sent"}
