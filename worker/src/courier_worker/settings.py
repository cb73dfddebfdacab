"""The worker's configuration: environment variables only, with laptop-friendly defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from courier_worker.queues import QUEUES, queue_named

#: ``worker/`` when running from a source checkout (``src/courier_worker/settings.py``).
_SOURCE_HOME = Path(__file__).resolve().parents[2]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def worker_home() -> Path:
    """Where the worker keeps its local state (``var/``): ``COURIER_WORKER_HOME`` or ``worker/``."""
    configured = os.environ.get("COURIER_WORKER_HOME")
    return Path(configured).expanduser() if configured else _SOURCE_HOME


def _var_dir() -> Path:
    return worker_home() / "var"


#: The delay queues' TTLs (seconds): each tier is one queue per consuming queue.
DEFAULT_RETRY_DELAYS = (1, 5, 30, 120, 600)


def _default_storage_url() -> str:
    return str(worker_home().parent / "var" / "storage")


def _default_database_url() -> str:
    return f"sqlite:///{_var_dir() / 'worker.sqlite3'}"


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to deliver mail, parsed from ``SMTP_URL``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    starttls: bool = False
    timeout: float = 10.0

    def __repr__(self) -> str:  # never print the password, even in a traceback
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"password={'***' if self.password else None}, ssl={self.ssl}, "
            f"starttls={self.starttls}, timeout={self.timeout})"
        )


def parse_smtp_url(url: str) -> SmtpConfig:
    """Parse ``smtp://[user:pass@]host[:port][?starttls=true&timeout=10]`` or ``smtps://...``.

    Defaults: port 25 for ``smtp``, 587 when ``starttls`` is on, 465 for ``smtps``.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"}:
        raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, got {parts.scheme!r}://")
    if not parts.hostname:
        raise ValueError("SMTP_URL names no host")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout"}
    if unknown:
        raise ValueError(f"SMTP_URL has unknown options: {', '.join(sorted(unknown))}")
    ssl = parts.scheme == "smtps"
    starttls = _flag(query.get("starttls", "false"), "starttls")
    if ssl and starttls:
        raise ValueError("SMTP_URL: smtps:// is already TLS; drop starttls=true")
    default_port = 465 if ssl else 587 if starttls else 25
    timeout = float(query.get("timeout", "10"))
    if timeout <= 0:
        raise ValueError("SMTP_URL: timeout must be positive")
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        ssl=ssl,
        starttls=starttls,
        timeout=timeout,
    )


def _flag(value: str, name: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"SMTP_URL: {name} must be true or false, got {value!r}")


def split_broker_urls(url: str) -> tuple[str, ...]:
    """The node URLs in ``url``: one, or several separated by ``;``."""
    return tuple(part.strip() for part in url.split(";") if part.strip())


class Settings(BaseSettings):
    """Everything the worker reads from its environment."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    # URLs may carry credentials: keep them out of repr() and so out of logs.
    #: One node's URL, or a cluster's nodes separated by ``;`` (kombu's failover list).
    RABBITMQ_URL: str = Field(default="amqp://guest:guest@localhost:5672/%2F", repr=False)
    WORKER_DATABASE_URL: str = Field(default_factory=_default_database_url, repr=False)
    #: Unset: emails are written as ``.eml`` files to ``MAIL_DIR``.
    SMTP_URL: str | None = Field(default=None, repr=False)
    #: PostgreSQL ``synchronous_commit`` for the handled-event record (see ``store.make_engine``).
    WORKER_DB_SYNCHRONOUS_COMMIT: Literal["on", "off", "local", "remote_write", "remote_apply"] = (
        "off"
    )
    #: Seconds a connection attempt to PostgreSQL may take (libpq ``connect_timeout``):
    #: a database that is away fails the delivery (retried) instead of hanging it.
    WORKER_DB_CONNECT_TIMEOUT: int = Field(default=5, ge=1, le=300)
    MAIL_DIR: Path = Field(default_factory=lambda: _var_dir() / "mail")
    MAIL_FROM: str = "Courier <no-reply@courier.invalid>"
    #: Reports and documents, shared with the web: a folder (default: ``var/storage``
    #: beside the worker's folder, where ``make run``'s web looks too) or ``s3://``.
    STORAGE_URL: str = Field(default_factory=lambda: _default_storage_url(), repr=False)
    #: The queues this worker consumes (comma-separated, ``critical``, ``bulk`` or full
    #: names); empty: every queue. An unknown name stops the worker at start.
    WORKER_QUEUES: Annotated[tuple[str, ...], NoDecode] = ()
    #: Messages each pool process reserves ahead (Celery's prefetch multiplier).
    WORKER_PREFETCH: int = Field(default=4, ge=1, le=100)
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    #: Touched by the running worker; ``courier-worker healthcheck`` checks its age.
    WORKER_HEARTBEAT_FILE: Path = Field(default_factory=lambda: _var_dir() / "worker.heartbeat")
    WORKER_HEARTBEAT_INTERVAL: float = Field(default=10.0, gt=0)
    WORKER_HEARTBEAT_MAX_AGE: float = Field(default=60.0, gt=0)
    #: Retries of a transient failure before the event is dead-lettered (0: none).
    WORKER_MAX_RETRIES: int = Field(default=8, ge=0, le=100)
    #: Backoff: retry n waits a random time in [0, min(MAX, BASE * 2**n)] ("full jitter")...
    WORKER_RETRY_BASE_SECONDS: float = Field(default=1.0, gt=0)
    WORKER_RETRY_MAX_SECONDS: float = Field(default=600.0, gt=0)
    #: ...rounded down to one of these delay-queue TTLs (comma-separated whole seconds).
    WORKER_RETRY_DELAYS: Annotated[tuple[int, ...], NoDecode] = DEFAULT_RETRY_DELAYS
    #: Task events (received, started, succeeded...) for Flower; off saves three small
    #: publishes per event handled.
    WORKER_SEND_TASK_EVENTS: bool = True
    #: Scheduled jobs (Celery Beat): seconds between two runs, 0 turns the job off.
    #: Periods are aligned on the Unix epoch: a daily job runs just after 00:00 UTC.
    SCHEDULE_SIGNUP_DIGEST_SECONDS: int = Field(default=86400, ge=0)
    SCHEDULE_RETENTION_SECONDS: int = Field(default=86400, ge=0)
    #: Staff who get the sign-up digest (comma-separated addresses); empty: none is sent.
    DIGEST_RECIPIENTS: Annotated[tuple[str, ...], NoDecode] = ()
    #: Newsletter emails per second for the whole deployment (every worker shares one
    #: pace through the worker's database: ``courier_worker.pacing``).
    NEWSLETTER_RATE_LIMIT: float = Field(default=10.0, gt=0, le=10_000)
    #: Days the retention job keeps handled-event records (the idempotency store: an
    #: event redelivered after that is handled again) and audit entries.
    RETENTION_HANDLED_EVENTS_DAYS: int = Field(default=30, ge=2)
    RETENTION_AUDIT_DAYS: int = Field(default=365, ge=1)
    #: Prometheus metrics port (0: no metrics server), address, and the multiprocess folder.
    WORKER_METRICS_PORT: int = Field(default=9808, ge=0, le=65535)
    # Loopback on a laptop; the image sets 0.0.0.0 so Prometheus can scrape the container.
    WORKER_METRICS_ADDRESS: str = "127.0.0.1"
    WORKER_METRICS_DIR: Path = Field(default_factory=lambda: _var_dir() / "metrics")

    @field_validator("WORKER_RETRY_DELAYS", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("WORKER_RETRY_DELAYS")
    @classmethod
    def _delays_are_a_ladder(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("WORKER_RETRY_DELAYS needs at least one delay")
        if any(seconds < 1 for seconds in value):
            raise ValueError("WORKER_RETRY_DELAYS are whole seconds, at least 1")
        if len(set(value)) != len(value):
            raise ValueError("WORKER_RETRY_DELAYS must not repeat a delay")
        return tuple(sorted(value))

    @field_validator("WORKER_QUEUES", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("WORKER_QUEUES")
    @classmethod
    def _known_queues(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = [queue_named(name).name for name in value]  # ValueError names the known ones
        # In the order of QUEUES, each once, whatever order and spelling were given.
        return tuple(spec.name for spec in QUEUES if spec.name in names)

    @field_validator("DIGEST_RECIPIENTS", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("DIGEST_RECIPIENTS")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            local, at, domain = address.partition("@")
            if not (local and at and "." in domain) or any(c in address for c in " <>,;"):
                raise ValueError(f"DIGEST_RECIPIENTS: {address!r} is not an email address")
        return value

    @field_validator("RABBITMQ_URL")
    @classmethod
    def _names_a_broker(cls, value: str) -> str:
        if not split_broker_urls(value):
            raise ValueError("RABBITMQ_URL names no broker")
        return value

    @field_validator("SMTP_URL", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("SMTP_URL")
    @classmethod
    def _smtp_url_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_smtp_url(value)
        return value

    @field_validator("WORKER_DB_SYNCHRONOUS_COMMIT", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def broker_urls(self) -> tuple[str, ...]:
        """Each broker node's URL in ``RABBITMQ_URL``, in the order given."""
        return split_broker_urls(self.RABBITMQ_URL)

    @property
    def smtp(self) -> SmtpConfig | None:
        return parse_smtp_url(self.SMTP_URL) if self.SMTP_URL else None

    @property
    def database_url(self) -> str:
        """``WORKER_DATABASE_URL`` with plain ``postgresql://`` mapped to the psycopg 3 driver."""
        url = self.WORKER_DATABASE_URL
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once, on first use."""
    return Settings()
