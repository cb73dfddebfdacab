"""Retries of transient failures: backoff with full jitter, through the worker's own delay queues.

A handler that fails for a reason that may pass (the SMTP server is down or
answers 4xx, a connection drops, the database is locked) is not retried in
place: the worker publishes a copy of the message (same body, ``retries``
header incremented, the correlation header kept) to a **delay queue** of the
queue it came from, with publisher confirms, and only then acknowledges the
original. A delay queue holds no consumers; its messages expire after its
``x-message-ttl`` and the broker dead-letters them, through the default
exchange, back to the work queue. So:

* the retry reaches this worker's queue only, never ``courier.events`` (other
  services bound to the event type never see an extra copy);
* no delay is held as an unacknowledged message in a worker, so RabbitMQ's
  ``consumer_timeout`` is never at risk, whatever the delay;
* delay queues are quorum queues with ``x-dead-letter-strategy=at-least-once``:
  the broker drops an expired message only once the work queue has it.

The delay of retry ``n`` (0-based) is drawn uniformly from
``[0, min(max, base * 2**n)]`` ("full jitter") and rounded *down* to the
largest delay-queue tier not above it; a delay below the shortest tier waits
the shortest tier (there is no immediate retry, so a failing dependency is
never hammered). After ``max_retries`` retries the event is dead-lettered
with reason ``retries-exhausted`` and the last error as detail.

A database that is away (``is_database_unavailable``: a restart, a failover,
a pause, a network cut, for the idempotency store or any handler's own
writes) is the exception: however long it lasts, its failures never exhaust
the retries and never dead-letter an event. They retry with the same
backoff, capped at ``database_max_seconds`` so that events flow again soon
after the database is back.
"""

from __future__ import annotations

import errno
import random
import smtplib
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from shared_contracts import WireMessage
from sqlalchemy import exc as sa_exc

from courier_worker.queues import QueueSpec
from courier_worker.topology import delay_queue

#: The dead-letter reason once every retry has failed.
RETRIES_EXHAUSTED = "retries-exhausted"
#: The Celery protocol v2 header counting retries (Celery reads it into ``request.retries``).
RETRIES_HEADER = "retries"
#: Headers the broker adds when it dead-letters or delivers; a retry is a fresh message.
BROKER_HEADERS = frozenset(
    {
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
        "x-delivery-count",
    }
)
#: OS errors that say "not now" rather than "never".
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ENETRESET,
        errno.EAGAIN,
        errno.ENOSPC,
    }
)


#: SQLSTATEs that say the database is away for now, not that the statement is wrong.
_UNAVAILABLE_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown: a restart, a failover, pg_terminate_backend
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up, shutting down, in recovery
        "57014",  # query_canceled: statement_timeout while the server was stalled
        "25006",  # read_only_sql_transaction: a demoted primary after a failover
    }
)
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53")  # connection exception; insufficient resources
#: Transient too, but about concurrency rather than availability: they use the retry budget.
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


class TransientError(Exception):
    """Raise from a handler to ask for a retry (the failure is expected to pass)."""


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says a database is away for now (restart, failover, pause, network).

    For SQLAlchemy's errors and psycopg's own: a lost or refused connection,
    a server shutting down or starting up, a statement cancelled by its
    timeout, a write to a primary demoted by a failover. Not a wrong password
    or a missing table: those do not pass by themselves.
    """
    driver = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    sqlstate = getattr(driver, "sqlstate", None)
    if sqlstate:
        return sqlstate in _UNAVAILABLE_SQLSTATES or sqlstate.startswith(
            _UNAVAILABLE_SQLSTATE_CLASSES
        )
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True  # a pooled connection lost; the pool exhausted while connections hang
    connection_level = (
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
    if not isinstance(exc, connection_level):
        return False
    text = str(driver).lower()
    if "sqlite" in type(driver).__module__:
        return "locked" in text or "busy" in text  # one writer at a time; the rest wait
    # Connection failures carry no SQLSTATE: a refusal for good says so in its message.
    return not any(reason in text for reason in _MISCONFIGURED_MESSAGES)


_MISCONFIGURED_MESSAGES = (
    "authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "unsupported startup parameter",
    "no such database",
    "no such user",
)


def is_transient(exc: BaseException, also: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether ``exc`` is worth retrying: a dependency that may come back, not a bad event.

    ``also`` adds the exception types a handler declared transient for itself
    (``@handles(..., transient=...)``) to the generic infrastructure errors below.
    """
    if also and isinstance(exc, also):
        return True
    if isinstance(exc, TransientError | SoftTimeLimitExceeded):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(_smtp_transient(code) for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _smtp_transient(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException):
        return False  # e.g. SMTPNotSupportedError: configuration, retrying will not help
    if is_database_unavailable(exc):
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True  # "database is locked", connection refused for now, pool exhausted
    if isinstance(exc, sa_exc.DBAPIError) and getattr(exc.orig, "sqlstate", None) in (
        _CONFLICT_SQLSTATES
    ):
        return True
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, OSError):
        return exc.errno in _TRANSIENT_ERRNOS
    return False


def _smtp_transient(code: int) -> bool:
    # 4xx: "try again later"; negative codes are smtplib's own (e.g. -1: connection closed).
    return 400 <= code < 500 or code < 0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: exponential backoff, full jitter, a ladder of tiers."""

    max_retries: int = 8
    base_seconds: float = 1.0
    max_seconds: float = 600.0
    tiers: tuple[int, ...] = (1, 5, 30, 120, 600)
    #: The longest delay of a retry because the database was away (never exhausted).
    database_max_seconds: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, retries: int, *, database_away: bool = False) -> float:
        """The jittered delay (seconds) before retry number ``retries`` (0-based)."""
        limit = (
            min(self.max_seconds, self.database_max_seconds) if database_away else self.max_seconds
        )
        ceiling = min(limit, self.base_seconds * 2.0 ** min(retries, 64))
        return self.rng.uniform(0.0, ceiling)

    def tier(self, delay: float) -> int:
        """The largest tier not above ``delay``; the shortest one when all are above it."""
        fitting = [tier for tier in self.tiers if tier <= delay]
        return max(fitting) if fitting else min(self.tiers)

    def exhausted(self, retries: int) -> bool:
        return retries >= self.max_retries


#: Message properties a retry copy keeps.
_KEPT_PROPERTIES = ("correlation_id", "message_id", "priority")


@dataclass(frozen=True)
class RetryMessage:
    """A copy of a delivered message, to be redelivered to ``source`` after ``delay_seconds``."""

    source: QueueSpec
    delay_seconds: int
    body: bytes
    headers: Mapping[str, Any]
    properties: Mapping[str, Any] = field(default_factory=dict)

    def wire(self) -> WireMessage:
        """The copy as published: to the delay queue, through the default exchange.

        A JSON Celery task message again, persistent, with the original's
        ``correlation_id``, ``message_id`` and ``priority``.
        """
        kept = {
            key: value
            for key, value in self.properties.items()
            if key in _KEPT_PROPERTIES and value is not None
        }
        return WireMessage.from_amqp(
            exchange="",
            routing_key=self.source.delay_queue(self.delay_seconds),
            body=self.body,
            headers=self.headers,
            properties=kept,
        )


class RetryPublisher(Protocol):
    """Publishes a retry copy; returns only once the broker has confirmed it."""

    def publish(self, message: RetryMessage) -> None: ...


class KombuRetryPublisher:
    """Publishes retries through the Celery app's producer pool (publisher confirms are on)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish(self, message: RetryMessage) -> None:
        queue = delay_queue(message.source, message.delay_seconds)
        wire = message.wire()
        with self.app.producer_or_acquire() as producer:
            # With ``confirm_publish`` publish() returns only after the broker's
            # ack and raises on a nack; ``mandatory`` makes a missing delay queue
            # an error rather than a silent drop.
            producer.publish(
                wire.body,
                exchange=wire.exchange,
                routing_key=wire.routing_key,
                mandatory=True,
                declare=[queue],
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
                **wire.amqp_properties(),
            )
