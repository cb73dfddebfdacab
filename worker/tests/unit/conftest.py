from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from courier_worker import bootstrap
from courier_worker.settings import get_settings
from shared_contracts import Envelope, UserRegistered, new_envelope

_ENV = (
    "RABBITMQ_URL",
    "WORKER_DATABASE_URL",
    "SMTP_URL",
    "MAIL_DIR",
    "MAIL_FROM",
    "WORKER_PREFETCH",
    "WORKER_QUEUES",
    "LOG_LEVEL",
    "WORKER_HEARTBEAT_FILE",
    "WORKER_HEARTBEAT_INTERVAL",
    "WORKER_HEARTBEAT_MAX_AGE",
    "WORKER_MAX_RETRIES",
    "WORKER_RETRY_BASE_SECONDS",
    "WORKER_RETRY_MAX_SECONDS",
    "WORKER_RETRY_DELAYS",
    "WORKER_METRICS_PORT",
    "WORKER_SEND_TASK_EVENTS",
    "SCHEDULE_SIGNUP_DIGEST_SECONDS",
    "SCHEDULE_RETENTION_SECONDS",
    "DIGEST_RECIPIENTS",
    "RETENTION_HANDLED_EVENTS_DAYS",
    "RETENTION_AUDIT_DAYS",
    "WORKER_METRICS_ADDRESS",
    "WORKER_METRICS_DIR",
)


@pytest.fixture(autouse=True)
def worker_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every unit test runs with a clean environment and its own worker home."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURIER_WORKER_HOME", str(tmp_path))
    get_settings.cache_clear()
    bootstrap.reset()
    yield tmp_path
    get_settings.cache_clear()
    bootstrap.reset()


@pytest.fixture
def registration() -> Envelope[UserRegistered]:
    return new_envelope(
        UserRegistered(user_id=7, email="ada@example.com", display_name="Ada"),
        producer="web",
        correlation_id="req-abc123",
    )
