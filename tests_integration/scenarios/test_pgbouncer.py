"""Web, relay and worker through PgBouncer in transaction pooling mode, as many users run them.

A transaction pooler lends a server connection per transaction: LISTEN
"succeeds" and then hears nothing, session state and server-side prepared
statements vanish between two statements. The relay is deliberately left
unconfigured here (no ``DATABASE_TRANSACTION_POOLING``, no
``OUTBOX_LISTEN_URL``): it must find out that NOTIFY cannot reach it, say so,
and poll. The worker must never prepare a statement (it would not exist on
the next server connection). Every registration is emailed once.

The services get databases and a RabbitMQ vhost of their own, so the
session's worker never sees their events.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from shared_contracts import UserRegistered

from ..support import accounting
from ..support.accounting import emails_by_event, json_lines
from ..support.clients import WebClient
from ..support.containers import (
    RABBITMQ_PASSWORD,
    RABBITMQ_USER,
    PgBouncer,
    Relay,
    ServiceContainer,
    Web,
    Worker,
)
from ..support.polling import wait_until
from ..support.stack import Stack

REGISTRATIONS = 60


@dataclass
class PooledServices:
    pgbouncer: PgBouncer
    web: Web
    relay: Relay
    worker: Worker
    web_database: str


@contextlib.contextmanager
def own_vhost(stack: Stack) -> Iterator[str]:
    vhost = f"courier-pgbouncer-{uuid.uuid4().hex[:8]}"
    stack.rabbitmq.rabbitmqctl("add_vhost", vhost)
    try:
        stack.rabbitmq.rabbitmqctl("set_permissions", "-p", vhost, RABBITMQ_USER, ".*", ".*", ".*")
        yield f"amqp://{RABBITMQ_USER}:{RABBITMQ_PASSWORD}@{stack.rabbitmq.alias}:5672/{vhost}"
    finally:
        stack.rabbitmq.rabbitmqctl("delete_vhost", vhost)


@contextlib.contextmanager
def own_databases(stack: Stack) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    names = (f"courier_web_pgb_{suffix}", f"courier_worker_pgb_{suffix}")
    admin_url = stack.postgres.url(stack.postgres.databases[0])
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        with psycopg.connect(
            stack.postgres.url(stack.postgres.databases[0]), autocommit=True
        ) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pooled(stack: Stack) -> Iterator[PooledServices]:
    with contextlib.ExitStack() as cleanup:
        amqp_url = cleanup.enter_context(own_vhost(stack))
        web_db, worker_db = cleanup.enter_context(own_databases(stack))
        started: list[ServiceContainer] = []

        def stop_all() -> None:
            for container in reversed(started):
                with contextlib.suppress(Exception):
                    container.stop()

        cleanup.callback(stop_all)
        pgbouncer = PgBouncer(stack.images.pgbouncer, stack.network, server=stack.postgres)
        started.append(pgbouncer.start())
        worker_env = {
            **stack.worker_env(),
            "RABBITMQ_URL": amqp_url,
            "WORKER_DATABASE_URL": pgbouncer.internal_url(worker_db),
        }
        worker = Worker(stack.images.worker, stack.network, worker_env, alias="worker-pgbouncer")
        started.append(worker)
        worker.start()  # declares the vhost's exchange and queues
        web_env = {
            **stack.web_env(),
            "RABBITMQ_URL": amqp_url,
            "OUTBOX_DECLARE_EXCHANGE": "durable",
            "DATABASE_URL": pgbouncer.internal_url(web_db),
        }
        web = Web(
            stack.images.web,
            stack.network,
            {**web_env, "DATABASE_TRANSACTION_POOLING": "true"},
            alias="web-pgbouncer",
        )
        started.append(web)
        web.start()  # its start script migrates, through PgBouncer
        relay = Relay(stack.images.web, stack.network, web_env)  # left to find out itself
        started.append(relay)
        relay.start()
        yield PooledServices(pgbouncer, web, relay, worker, web_db)


def test_registrations_through_pgbouncer_are_each_emailed_once(
    stack: Stack, pooled: PooledServices, domain: str, request: pytest.FixtureRequest
) -> None:
    client = WebClient(pooled.web.base_url)
    statuses = [client.register(f"pooled{n}@{domain}").status_code for n in range(REGISTRATIONS)]
    registered = time.monotonic()

    assert set(statuses) == {201}, statuses
    wait_until(
        lambda: len(emails_by_event(stack, domain)) >= REGISTRATIONS,
        timeout=90,
        what=f"{REGISTRATIONS} welcome emails through PgBouncer",
    )
    emailed_after = time.monotonic() - registered
    with psycopg.connect(stack.postgres.url(pooled.web_database)) as conn:
        rows = dict(
            conn.execute(
                "SELECT event_id::text, status FROM outbox_outboxmessage WHERE event_type = %s",
                [UserRegistered.event_type],
            ).fetchall()
        )
    assert len(rows) == REGISTRATIONS
    wait_until(
        lambda: (
            accounting.worker_log_counts(stack, [pooled.worker.logs()])[0].keys() >= rows.keys()
        ),
        timeout=30,
        what="the pooled worker's handled lines",
    )
    result = accounting.settle(
        stack,
        test=request.node.name,
        domain=domain,
        produced=rows,
        extra_logs=[pooled.worker.logs()],
        timeout=30,
    )

    def relay_events() -> list[str | None]:
        return [record.get("event") for record in json_lines(pooled.relay.logs())]

    # It finds out on its first idle wait, whose check waits PROBE_TIMEOUT_S for its
    # own notification: when the relay started behind the registrations, that is
    # after the backlog (and the emails) went out.
    wait_until(
        lambda: "outbox.listen_unsupported" in relay_events(),
        timeout=30,
        what="the relay to find out that LISTEN hears nothing through PgBouncer",
    )
    assert "outbox.database_lost" not in relay_events()
    with psycopg.connect(stack.postgres.url(pooled.web_database)) as conn:
        statuses_now = conn.execute("SELECT DISTINCT status FROM outbox_outboxmessage").fetchall()
    assert statuses_now == [("sent",)]
    worker_events = [record.get("event") for record in json_lines(pooled.worker.logs())]
    # A prepared statement gone with its server connection would fail deliveries here.
    assert "event.retry_scheduled" not in worker_events
    assert "event.dead_lettered" not in worker_events
    assert result.handled == REGISTRATIONS
    accounting.note(
        request.node.name,
        f"{REGISTRATIONS} registrations through PgBouncer (transaction pooling): all emailed "
        f"{emailed_after:.1f}s after the last 201; the relay polled (LISTEN detected as deaf)",
    )
