from __future__ import annotations

from pathlib import Path

import pytest
from courier_worker.bootstrap import make_mailer
from courier_worker.mail import FileMailer, SmtpMailer
from courier_worker.settings import Settings, SmtpConfig, parse_smtp_url
from pydantic import ValidationError


def test_defaults_live_under_the_worker_home(worker_home: Path) -> None:
    settings = Settings()
    assert settings.RABBITMQ_URL == "amqp://guest:guest@localhost:5672/%2F"
    assert f"sqlite:///{worker_home / 'var' / 'worker.sqlite3'}" == settings.WORKER_DATABASE_URL
    assert worker_home / "var" / "mail" == settings.MAIL_DIR
    assert settings.SMTP_URL is None
    assert settings.smtp is None
    assert settings.MAIL_FROM == "Courier <no-reply@courier.invalid>"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@rabbit:5672/courier")
    monkeypatch.setenv("WORKER_PREFETCH", "2")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.RABBITMQ_URL == "amqp://u:p@rabbit:5672/courier"
    assert settings.WORKER_PREFETCH == 2
    assert settings.LOG_LEVEL == "DEBUG"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail:1025", SmtpConfig(host="mail", port=1025)),
        ("smtp://mail", SmtpConfig(host="mail", port=25)),
        (
            "smtp://user:p%40ss@mail:587?starttls=true",
            SmtpConfig(host="mail", port=587, username="user", password="p@ss", starttls=True),
        ),
        ("smtp://mail?starttls=yes", SmtpConfig(host="mail", port=587, starttls=True)),
        ("smtps://mail", SmtpConfig(host="mail", port=465, ssl=True)),
        ("smtp://mail:25?timeout=3.5", SmtpConfig(host="mail", port=25, timeout=3.5)),
    ],
)
def test_smtp_url_variants(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail:25",
        "smtp://",
        "smtps://mail?starttls=true",
        "smtp://mail?starttls=maybe",
        "smtp://mail?tls=true",
        "smtp://mail?timeout=0",
    ],
)
def test_bad_smtp_urls_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", url)
    with pytest.raises(ValidationError):
        Settings()


def test_blank_smtp_url_means_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", " ")
    assert isinstance(make_mailer(Settings()), FileMailer)


def test_smtp_url_selects_the_smtp_mailer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:2525")
    assert isinstance(make_mailer(Settings()), SmtpMailer)


def test_plain_postgresql_url_uses_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_DATABASE_URL", "postgresql://postgres@db:5432/worker")
    assert Settings().database_url == "postgresql+psycopg://postgres@db:5432/worker"


def test_credentials_never_appear_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", "smtp://user:s3cret-pw@mail:587?starttls=true")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:s3cret-pw@rabbit:5672/x")
    settings = Settings()
    assert settings.smtp is not None
    for text in (repr(settings), repr(settings.smtp), repr(make_mailer(settings))):
        assert "s3cret-pw" not in text


def test_retry_and_metrics_defaults(worker_home: Path) -> None:
    settings = Settings()
    assert settings.WORKER_MAX_RETRIES == 8
    assert settings.WORKER_RETRY_BASE_SECONDS == 1
    assert settings.WORKER_RETRY_MAX_SECONDS == 600
    assert settings.WORKER_RETRY_DELAYS == (1, 5, 30, 120, 600)
    assert settings.WORKER_METRICS_PORT == 9808
    assert settings.WORKER_METRICS_ADDRESS == "127.0.0.1"
    assert worker_home / "var" / "metrics" == settings.WORKER_METRICS_DIR


@pytest.mark.parametrize("delays", ["", "0,5", "1,1", "1.5", "a"])
def test_bad_retry_delays_are_refused(monkeypatch: pytest.MonkeyPatch, delays: str) -> None:
    monkeypatch.setenv("WORKER_RETRY_DELAYS", delays)
    with pytest.raises(ValidationError):
        Settings()


def test_metrics_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_METRICS_PORT", "0")
    assert Settings().WORKER_METRICS_PORT == 0
