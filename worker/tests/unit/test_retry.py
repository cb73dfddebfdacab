"""Backoff, tiers and the transient/permanent split, without a broker."""

from __future__ import annotations

import errno
import random
import smtplib
import socket
import sqlite3

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from courier_worker.bootstrap import retry_policy
from courier_worker.queues import CRITICAL
from courier_worker.retry import RetryPolicy, TransientError, is_transient
from courier_worker.settings import Settings
from courier_worker.topology import delay_queue, delay_queues
from sqlalchemy.exc import IntegrityError, OperationalError


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=600, rng=random.Random(1))
    for retries, ceiling in [(0, 1), (1, 2), (3, 8), (9, 512), (10, 600), (50, 600), (500, 600)]:
        delays = [policy.backoff(retries) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8  # the whole range is used...
        assert min(delays) < ceiling * 0.2  # ...down to (almost) nothing


@pytest.mark.parametrize(
    ("delay", "tier"),
    [(0.0, 1), (0.7, 1), (1.0, 1), (4.99, 1), (5.0, 5), (29, 5), (31, 30), (119, 30), (599, 120)],
)
def test_the_largest_tier_not_above_the_delay(delay: float, tier: int) -> None:
    assert RetryPolicy(tiers=(1, 5, 30, 120, 600)).tier(delay) == tier


def test_exhausted_after_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)
    assert [policy.exhausted(n) for n in range(4)] == [False, False, True, True]
    assert RetryPolicy(max_retries=0).exhausted(0)


def test_policy_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_MAX_RETRIES", "3")
    monkeypatch.setenv("WORKER_RETRY_BASE_SECONDS", "0.5")
    monkeypatch.setenv("WORKER_RETRY_MAX_SECONDS", "20")
    monkeypatch.setenv("WORKER_RETRY_DELAYS", "10, 1,2")
    policy = retry_policy(Settings())
    assert (policy.max_retries, policy.base_seconds, policy.max_seconds) == (3, 0.5, 20)
    assert policy.tiers == (1, 2, 10)


def _recipients_refused(*codes: int) -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused(
        {f"r{i}@example.com": (code, b"no") for i, code in enumerate(codes)}
    )


@pytest.mark.parametrize(
    "exc",
    [
        smtplib.SMTPDataError(451, b"try later"),
        smtplib.SMTPSenderRefused(421, b"busy", "a@b"),
        smtplib.SMTPConnectError(421, b"too many connections"),
        smtplib.SMTPServerDisconnected("gone"),
        _recipients_refused(450, 451),
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        ConnectionResetError(),
        TimeoutError("timed out"),
        socket.gaierror(socket.EAI_AGAIN, "temporary failure in name resolution"),
        OSError(errno.ENETUNREACH, "network unreachable"),
        OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")),
        SoftTimeLimitExceeded(),
        TransientError("the handler says so"),
    ],
    ids=repr,
)
def test_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        smtplib.SMTPDataError(550, b"no such user"),
        smtplib.SMTPAuthenticationError(535, b"bad credentials"),
        smtplib.SMTPNotSupportedError("no STARTTLS"),
        _recipients_refused(451, 550),  # one of them will never work
        OSError(errno.EACCES, "permission denied"),
        IntegrityError("INSERT", {}, sqlite3.IntegrityError("constraint")),
        ValueError("bad"),
        KeyError("x"),
    ],
    ids=repr,
)
def test_permanent(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_delay_queues_lead_back_to_their_work_queue() -> None:
    queue = delay_queue(CRITICAL, 30)
    assert queue.name == "courier.worker.critical.delay.30s"
    assert queue.durable
    assert queue.queue_arguments == {
        "x-queue-type": "quorum",
        "x-message-ttl": 30_000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "courier.worker.critical",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    names = [q.name for q in delay_queues((1, 5))]
    assert names == [
        "courier.worker.critical.delay.1s",
        "courier.worker.critical.delay.5s",
        "courier.worker.bulk.delay.1s",
        "courier.worker.bulk.delay.5s",
    ]
