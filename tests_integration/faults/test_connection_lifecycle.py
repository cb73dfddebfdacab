"""Every long-lived AMQP connection comes back by itself: no process restarts, nothing lost.

Three faults, each applied to the running stack: the broker node restarts,
the broker closes every connection (``rabbitmqctl close_all_connections``),
and heartbeats stop (the broker is frozen with ``docker pause`` until every
client has dropped its connection for missed heartbeats). After each, the
test shows for each long-lived connection that the same process (the
container was not restarted) opened a new one and works again:

* the outbox relay (``relay_outbox``): registrations on the session web are emailed;
* the web's in-process publisher thread (``OUTBOX_DISPATCH=thread``): a web of
  its own, on a database no relay reads, so only its thread can publish its rows;
* a worker (Celery, broker heartbeat 10 s): it handles events again and its
  liveness probe, which requires it to consume, passes;
* the web's event consumer (``consume_events``, the stack's own): a result
  published after the fault is consumed and applied.

The last test shows the probe failing when a worker stops consuming while its
process lives on (Celery's "alive but not consuming" state, made here with
``celery control cancel_consumer``), so that an orchestrator restarts it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from courier_worker.queues import QUEUES
from shared_contracts import UserRegistered
from shared_contracts.events.reports import ReportFailed

from ..support.accounting import json_lines, outbox_rows
from ..support.clients import WebClient, publish_events
from ..support.containers import RABBITMQ_WORKER_USER, Consumer, ServiceContainer, Web, Worker
from ..support.polling import wait_until
from ..support.stack import Stack
from .connections import broker_ports, established_ports, started_at

#: The threaded web's own database: the session relay never sees its rows.
THREADED_DB = "courier_web_threaded"


@dataclass
class Clients:
    """The long-lived connections' processes: the session relay, and two of this module's own."""

    relay: ServiceContainer
    threaded_web: Web
    worker: Worker
    consumer: Consumer

    def by_name(self) -> dict[str, ServiceContainer]:
        return {
            "relay": self.relay,
            "publisher thread": self.threaded_web,
            "worker": self.worker,
            "web consumer": self.consumer,
        }


@pytest.fixture(scope="module")
def clients(stack: Stack) -> Iterator[Clients]:
    with psycopg.connect(stack.postgres.url("courier_web"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{THREADED_DB}"')
        conn.execute(f'CREATE DATABASE "{THREADED_DB}"')
    threaded_env = {
        **stack.web_env(),
        "DATABASE_URL": stack.postgres.internal_url(THREADED_DB),
        "OUTBOX_DISPATCH": "thread",
        "WEB_CONCURRENCY": "1",  # one process, so one publisher thread
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,web-threaded",
    }
    worker_env = {
        **stack.worker_env(),
        # Celery's default broker heartbeat is 120 s; the probe runs every second.
        "RABBITMQ_URL": stack.rabbitmq.internal_url_for(RABBITMQ_WORKER_USER) + "?heartbeat=10",
        "WORKER_HEARTBEAT_INTERVAL": "1",
        "WORKER_HEARTBEAT_MAX_AGE": "5",
    }
    threaded = Web(stack.images.web, stack.network, threaded_env, alias="web-threaded")
    worker = Worker(stack.images.worker, stack.network, worker_env, alias="worker-lifecycle")
    try:
        threaded.start()
        worker.start()
        assert stack.relay is not None
        yield Clients(stack.relay, threaded, worker, stack.ensure_consumer())
    finally:
        for container in (threaded, worker):
            container.stop()


def _restart(stack: Stack, clients: Clients, before: Mapping[str, set[int]]) -> None:
    stack.rabbitmq.docker_restart()


def _close_all(stack: Stack, clients: Clients, before: Mapping[str, set[int]]) -> None:
    stack.rabbitmq.rabbitmqctl(
        "close_all_connections", "-p", "courier", "connection lifecycle test"
    )


def _heartbeats_lost(stack: Stack, clients: Clients, before: Mapping[str, set[int]]) -> None:
    """Freeze the broker until every client dropped a connection for missed heartbeats.

    The relay and the thread have one connection each. Of a worker's, only the
    consumer's checks heartbeats (its event loop drives the check); the others
    (the publishing pool) notice a dead broker when they are next used.
    """
    broker = stack.rabbitmq.get_wrapped_container()
    broker.pause()
    try:
        for name, client in clients.by_name().items():
            try:
                wait_until(
                    lambda client=client, name=name: before[name] - established_ports(client),
                    timeout=90,
                    what=f"the {name} to drop a connection after missed heartbeats",
                    interval=1,
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{_described(client)}") from None
    finally:
        broker.unpause()


def _described(client: ServiceContainer) -> str:
    """The client container's state and the end of its log, for a failure's message."""
    wrapped = client.get_wrapped_container()
    wrapped.reload()
    state = wrapped.attrs["State"]
    tail = "\n".join(client.logs().splitlines()[-25:])
    return (
        f"{client.alias}: {state.get('Status')} (exit code {state.get('ExitCode')}, "
        f"OOM-killed {state.get('OOMKilled')}, finished {state.get('FinishedAt')}); "
        f"its log ends:\n{tail}"
    )


FAULTS: dict[str, Callable[[Stack, Clients, Mapping[str, set[int]]], None]] = {
    "node-restart": _restart,
    "closed-by-broker": _close_all,
    "heartbeat-loss": _heartbeats_lost,
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_connection_comes_back_in_the_same_process(
    fault: str,
    stack: Stack,
    clients: Clients,
    web: WebClient,
    domain: str,
    settle: Callable[..., Any],
    note: Callable[[str], None],
) -> None:
    threaded = WebClient(clients.threaded_web.base_url)
    named = clients.by_name()
    # Every connection open and in use: one registration through each web is emailed.
    _register(web, f"warm@{domain}")
    _register(threaded, f"warm-threaded@{domain}")
    wait_until(lambda: len(stack.smtp.messages_to(domain)) >= 2, timeout=60, what="warm-up emails")
    before = wait_until(
        lambda: _reconnected(broker_ports(stack.rabbitmq, named), {}),
        timeout=30,
        what="a connection from every client",
    )
    started = {name: started_at(client) for name, client in named.items()}

    began = time.monotonic()
    FAULTS[fault](stack, clients, before)

    # The thread connects when it has a row to publish; the relay and the worker by themselves.
    first_threaded = _until_the_thread_publishes(threaded, clients.threaded_web, domain)
    after = wait_until(
        lambda: _reconnected(broker_ports(stack.rabbitmq, named), before),
        timeout=120,
        what="every client to open a new connection",
        interval=1,
    )
    reconnected_s = time.monotonic() - began
    assert {name: started_at(client) for name, client in named.items()} == started

    for n in range(10):
        _register(web, f"after{n}@{domain}")
    # Rows the thread skipped while its breaker was open wait for a relay, as documented.
    code, output = clients.threaded_web.run("courier-web", "relay_outbox", "--once")
    assert code == 0, output

    produced = {**outbox_rows(stack, domain), **_threaded_rows(stack, domain)}
    settle(domain=domain, produced=produced, extra_workers=[clients.worker])
    handled_here = {
        str(record.get("event_id"))
        for record in json_lines(clients.worker.logs())
        if record.get("event") == "event.handled"
    }
    assert handled_here & set(outbox_rows(stack, domain)), "the worker handled nothing after"
    wait_until(lambda: _healthy(clients.worker), timeout=30, what="the worker's probe to pass")
    _consumes_again(stack, clients.consumer)
    note(
        f"{fault}: every client reconnected {reconnected_s:.1f}s after the fault began "
        f"(new ports {after}); the thread published again after {first_threaded} tries"
    )


def test_a_worker_that_stops_consuming_fails_its_probe(stack: Stack, clients: Clients) -> None:
    worker = clients.worker
    wait_until(lambda: _healthy(worker), timeout=30, what="the worker's probe to pass")
    host = f"worker@{worker.run('hostname')[1].strip()}"
    try:
        for queue in QUEUES:
            _celery_control(worker, "cancel_consumer", queue.name, host)
        # The probe as deployed (WORKER_HEARTBEAT_MAX_AGE, 5 s here) fails and says why.
        code, output = wait_until(
            lambda: (result := worker.run("courier-worker", "healthcheck"))[0] == 1 and result,
            timeout=30,
            what="the probe to fail",
        )
        assert "unhealthy: last heartbeat" in output, (code, output)
        reasons = [
            record.get("reason")
            for record in json_lines(worker.logs())
            if record.get("event") == "worker.not_consuming"
        ]
        assert "no queue is consumed" in reasons, reasons
    finally:
        for queue in QUEUES:
            _celery_control(worker, "add_consumer", queue.name, host)
    wait_until(lambda: _healthy(worker), timeout=30, what="the probe to pass again")


def _register(client: WebClient, email: str, request_id: str | None = None) -> None:
    response = client.register(email, request_id=request_id)
    assert response.status_code == 201, response.text


def _reconnected(
    now: Mapping[str, set[int]], before: Mapping[str, set[int]]
) -> dict[str, set[int]]:
    """Each client's connections not in ``before``, once every client has one."""
    fresh = {name: ports - before.get(name, set()) for name, ports in now.items()}
    missing = sorted(name for name, ports in fresh.items() if not ports)
    if missing:
        raise AssertionError(f"no new connection from: {', '.join(missing)}")
    return fresh


def _until_the_thread_publishes(threaded: WebClient, container: Web, domain: str) -> int:
    """Register through the threaded web until its thread publishes one; how many it took."""
    deadline = time.monotonic() + 120
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        request_id = f"lifecycle-{uuid.uuid4().hex}"
        _register(threaded, f"threaded{tries}@{domain}", request_id=request_id)
        try:
            wait_until(
                lambda request_id=request_id: _published(container, request_id),
                timeout=3,
                what="the thread to publish this registration",
            )
        except AssertionError:
            continue  # its breaker is still open (or it is reconnecting): the next one
        return tries
    raise AssertionError("the publisher thread did not publish again within 120s")


def _published(container: Web, request_id: str) -> bool:
    return any(
        record.get("event") == "outbox.published" and record.get("correlation_id") == request_id
        for record in json_lines(container.logs())
    )


def _threaded_rows(stack: Stack, domain: str) -> dict[str, str]:
    with (
        psycopg.connect(stack.postgres.url(THREADED_DB), connect_timeout=5) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT event_id::text, status FROM outbox_outboxmessage"
            " WHERE event_type = %s AND body LIKE %s",
            (UserRegistered.event_type, f'%@{domain}"%'),
        )
        return dict(cursor.fetchall())


def _consumes_again(stack: Stack, consumer: Consumer) -> None:
    """A result published now is applied by the web's consumer (for a report it never had)."""
    report_id = uuid.uuid4()
    connection = stack.rabbitmq.connection()
    try:
        publish_events(
            connection,
            [ReportFailed(report_id=report_id, reason="connection lifecycle test")],
            correlation_id="lifecycle-consumer",
        )
    finally:
        connection.close()
    wait_until(
        lambda: any(
            record.get("event") == "report.result_for_unknown_report"
            and record.get("report_id") == str(report_id)
            for record in json_lines(consumer.logs())
        ),
        timeout=60,
        what="the web's consumer to apply a result published after the fault",
    )


def _healthy(worker: Worker) -> bool:
    """The probe passes with a beat from the last 3 s (one comes every second while consuming)."""
    code, _ = worker.run("courier-worker", "healthcheck", "--max-age", "3")
    return code == 0


def _celery_control(worker: Worker, command: str, queue: str, host: str) -> None:
    code, output = worker.run(
        "celery", "-A", "courier_worker.celery_app:app", "control", command, queue,
        "--destination", host,
    )  # fmt: skip
    assert code == 0, f"celery control {command}: {output}"
    assert "error" not in output.lower(), f"celery control {command}: {output}"
