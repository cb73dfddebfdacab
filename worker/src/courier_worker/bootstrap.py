"""The composition root: builds the worker's dependencies, lazily, once per process.

Nothing here runs at import time. Under the prefork pool every child process
builds its own container on first use (a database engine or SMTP connection
must never be shared across ``fork()``), which is why the cache is keyed by
process id.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from celery import Celery

from courier_worker.deadletter import DeadLetterPublisher, KombuDeadLetterPublisher
from courier_worker.handlers import Dependencies
from courier_worker.idempotency import IdempotencyGuard
from courier_worker.mail import FileMailer, Mailer, SmtpMailer
from courier_worker.results import KombuResultPublisher
from courier_worker.retry import KombuRetryPublisher, RetryPolicy, RetryPublisher
from courier_worker.settings import Settings, get_settings
from courier_worker.storage import make_storage
from courier_worker.store import HandledEvents, SqlHandledEvents, make_engine


@dataclass(frozen=True)
class Container:
    """Everything a task needs to handle a delivery."""

    settings: Settings
    store: HandledEvents
    guard: IdempotencyGuard
    deps: Dependencies
    dead_letters: DeadLetterPublisher
    retries: RetryPublisher
    retry_policy: RetryPolicy


_lock = threading.Lock()
_containers: dict[int, Container] = {}


def get_container(app: Celery) -> Container:
    """This process's container, built on first use."""
    pid = os.getpid()
    container = _containers.get(pid)
    if container is None:
        with _lock:
            container = _containers.get(pid)
            if container is None:
                _containers.clear()  # entries inherited from a parent process
                container = _containers[pid] = build(app, get_settings())
    return container


def running_container() -> Container:
    """The container of this process, which the task built before running a handler.

    For handlers that need more than ``Dependencies`` (the scheduled jobs read
    the idempotency store); raises outside a task that has started.
    """
    container = _containers.get(os.getpid())
    if container is None:
        raise RuntimeError("no container in this process: call it from a handler")
    return container


def build(app: Celery, settings: Settings) -> Container:
    # Connects to nothing: the store creates its table on first use.
    store = SqlHandledEvents(
        make_engine(
            settings.database_url,
            synchronous_commit=settings.WORKER_DB_SYNCHRONOUS_COMMIT,
            connect_timeout=settings.WORKER_DB_CONNECT_TIMEOUT,
        )
    )
    return Container(
        settings=settings,
        store=store,
        guard=IdempotencyGuard(store),
        deps=Dependencies(
            mailer=make_mailer(settings),
            mail_from=settings.MAIL_FROM,
            results=KombuResultPublisher(app),
            storage=make_storage(settings.STORAGE_URL),
        ),
        dead_letters=KombuDeadLetterPublisher(app),
        retries=KombuRetryPublisher(app),
        retry_policy=retry_policy(settings),
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_retries=settings.WORKER_MAX_RETRIES,
        base_seconds=settings.WORKER_RETRY_BASE_SECONDS,
        max_seconds=settings.WORKER_RETRY_MAX_SECONDS,
        tiers=settings.WORKER_RETRY_DELAYS,
    )


def make_store(settings: Settings) -> SqlHandledEvents:
    """The handled-events store, its table created now (``init-db``; the worker does it lazily)."""
    store = SqlHandledEvents(
        make_engine(
            settings.database_url,
            synchronous_commit=settings.WORKER_DB_SYNCHRONOUS_COMMIT,
            connect_timeout=settings.WORKER_DB_CONNECT_TIMEOUT,
        )
    )
    store.create_schema()
    return store


def make_mailer(settings: Settings) -> Mailer:
    """SMTP when ``SMTP_URL`` is set, else ``.eml`` files in ``MAIL_DIR``."""
    smtp = settings.smtp
    return SmtpMailer(smtp) if smtp else FileMailer(settings.MAIL_DIR)


def install(container: Container) -> None:
    """Use ``container`` in this process from now on (tests use it to plug in fakes)."""
    with _lock:
        _containers.clear()
        _containers[os.getpid()] = container


def reset() -> None:
    """Forget this process's container; the next use builds a fresh one."""
    with _lock:
        _containers.clear()
