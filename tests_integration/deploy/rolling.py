"""The rolling-deploy tests' parts: the next images, their events, the operator's commands.

The "next" images (``make images-next``) are this source with one contract
changed (``infra/deploy/next-contract/next-contract.patch``): the web sets
``registered_via`` (``user.registered.v1`` revision 2) and publishes
``user.registered.v2`` beside v1; the worker reads both, and says in the
welcome email how the account was created. The session stack's web, relay
and worker are the old images.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import docker
import psycopg
import pytest
from courier_worker.queues import CRITICAL
from shared_contracts import EVENTS_EXCHANGE, UserRegistered

from ..support.accounting import json_lines
from ..support.containers import Relay, Web, Worker
from ..support.polling import wait_until
from ..support.stack import Stack

V1 = UserRegistered.event_type
#: The next contract's new major version (the old source has no model for it).
V2 = "user.registered.v2"
#: What the next worker adds to a welcome email when revision 2 says how the account came.
VIA_API = "Your account was created via api."


@dataclass(frozen=True)
class NextImages:
    web: str
    worker: str

    @classmethod
    def from_environment(cls, old_web: str, old_worker: str) -> NextImages:
        """``WEB_NEXT_IMAGE`` / ``WORKER_NEXT_IMAGE``, by default the old names plus ``-next``."""
        images = cls(
            web=os.environ.get("WEB_NEXT_IMAGE", f"{old_web}-next"),
            worker=os.environ.get("WORKER_NEXT_IMAGE", f"{old_worker}-next"),
        )
        client = docker.from_env()
        missing = [name for name in (images.web, images.worker) if not client.images.list(name)]
        if missing:
            pytest.fail(
                f"images not built: {', '.join(missing)}. Run `make images-next` "
                "(with the same image variables as `make images`) first.",
                pytrace=False,
            )
        return images


def start_web(stack: Stack, image: str) -> tuple[Web, Relay]:
    """A web and its relay from ``image``, beside the session's, on the same database and broker."""
    web = Web(image, stack.network, stack.web_env(), alias="web-next").start()
    relay = Relay(image, stack.network, stack.web_env()).start()
    return web, relay


def start_worker(stack: Stack, image: str, alias: str) -> Worker:
    """A worker from ``image``; the accounting counts it while it is in the stack."""
    worker = Worker(image, stack.network, stack.worker_env(), alias=alias)
    stack.workers.append(worker)  # before start, so that cleanup sees it
    worker.start()
    return worker


def retire_worker(stack: Stack, worker: Worker, logs: list[str]) -> None:
    """Stop and remove ``worker`` as a rollout does (SIGTERM: warm shutdown), keeping its log."""
    worker.docker_stop()
    logs.append(worker.logs())
    stack.remove_worker(worker)


def unbind_v2(stack: Stack) -> None:
    """Remove the v2 binding a next worker declared, so the old stack is as it was."""
    connection = stack.rabbitmq.connection()
    try:
        connection.channel().queue_unbind(CRITICAL.name, EVENTS_EXCHANGE, routing_key=V2)
    finally:
        connection.close()


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    event_type: str
    status: str
    last_error: str
    user_id: int


def outbox_events(stack: Stack, domain: str) -> list[OutboxEvent]:
    """The registrations' outbox rows (v1 and v2) for users at ``domain``."""
    with (
        psycopg.connect(stack.postgres.url("courier_web"), connect_timeout=5) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT event_id::text, event_type, status, last_error, body "
            "FROM outbox_outboxmessage WHERE event_type IN (%s, %s) AND body LIKE %s",
            (V1, V2, f'%@{domain}"%'),
        )
        rows = cursor.fetchall()
    return [
        OutboxEvent(event_id, event_type, status, last_error, _user_id(body))
        for event_id, event_type, status, last_error, body in rows
    ]


def _user_id(body: str) -> int:
    _args, kwargs, _embed = json.loads(body)
    return int(kwargs["event"]["payload"]["user_id"])


def of_type(events: Iterable[OutboxEvent], event_type: str) -> list[OutboxEvent]:
    return [event for event in events if event.event_type == event_type]


def dead_letters(worker: Worker) -> dict[str, str]:
    """``courier-worker dead-letters list`` (left in place): reason by event id."""
    code, output = worker.run("courier-worker", "dead-letters", "list", "--limit", "1000")
    assert code == 0, output
    return {
        str(record["id"]): str(record["reason"])
        for record in json_lines(output)
        if "reason" in record and record.get("id")
    }


def requeue_dead_letters(worker: Worker, event_ids: Iterable[str]) -> None:
    """``courier-worker dead-letters requeue <ids>``: back to the queue they came from.

    Run again for the ids it did not find: letters just looked at by ``list``
    (fetched, then returned unacknowledged) may take a moment to be offered again.
    """
    remaining = set(event_ids)

    def requeue_the_rest() -> bool:
        code, output = worker.run("courier-worker", "dead-letters", "requeue", *sorted(remaining))
        assert code == 0, output
        remaining.difference_update(str(r["id"]) for r in json_lines(output) if r.get("requeued"))
        return not remaining

    wait_until(requeue_the_rest, timeout=30, what="the dead letters to be requeued")


def replay_failed_rows(web: Web, event_ids: Iterable[str]) -> None:
    """``courier-web outbox replay --event-id ...``: unroutable rows back to pending."""
    ids = sorted(event_ids)
    command = ["courier-web", "outbox", "replay"]
    for event_id in ids:
        command += ["--event-id", event_id]
    code, output = web.run(*command)
    assert code == 0, output
    assert f"replayed {len(ids)} failed row(s)" in output, output


def handled_counts(stack: Stack, extra_logs: Iterable[str] = ()) -> Counter[str]:
    """``event.handled`` lines by event id, over the stack's workers and retired ones."""
    handled: Counter[str] = Counter()
    for text in [*(worker.logs() for worker in stack.workers), *extra_logs]:
        for record in json_lines(text):
            if record.get("event") == "event.handled" and record.get("event_id"):
                handled[str(record["event_id"])] += 1
    return handled


def email_texts(stack: Stack, domain: str) -> dict[str, str]:
    """The welcome emails' text by the event id in their Message-ID."""
    return {
        str(mail["message_id"]).strip("<>").split("@", 1)[0]: str(mail.get("text") or "")
        for mail in stack.smtp.messages_to(domain)
    }
