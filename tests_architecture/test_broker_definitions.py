"""The broker definitions grant each service what it does with the names it declares, no more.

``infra/rabbitmq/definitions.json`` holds the users' permission regexes; the
names they must match come from the code that declares them (the worker's
``courier_worker.queues`` and ``topology``, Celery's remote control and
events), never from a copy. RabbitMQ checks an operation against one of
three regexes of the user (unanchored, like ``re.search``):

* configure: declaring (or deleting) a queue or exchange;
* write: publishing to an exchange, binding a queue (on the queue);
* read: consuming from or purging a queue, binding a queue (on the exchange).

``tests_integration/security/test_broker_permissions.py`` proves the same
grants and refusals on a live broker.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from courier_web.consumer.topology import DEAD_LETTER_EXCHANGE as WEB_DEAD_LETTER_EXCHANGE
from courier_web.consumer.topology import DEAD_LETTER_QUEUE as WEB_DEAD_LETTER_QUEUE
from courier_web.consumer.topology import RESULTS_QUEUE as WEB_RESULTS_QUEUE
from courier_web.consumer.topology import queue_arguments as web_queue_arguments
from courier_worker.celery_app import app as worker_app
from courier_worker.queues import QUEUES
from courier_worker.results import publications
from courier_worker.settings import DEFAULT_RETRY_DELAYS
from courier_worker.topology import (
    dead_letter_exchange,
    dead_letter_queue,
    delay_queue,
    events_exchange,
    queue_arguments,
)
from shared_contracts import EVENT_TYPES

DEFINITIONS = Path(__file__).resolve().parent.parent / "infra" / "rabbitmq" / "definitions.json"
VHOST = "courier"
WORKER_USER = "courier-worker"
WEB_USER = "courier-web"
#: How RabbitMQ names the default exchange ("") in permission checks.
DEFAULT_EXCHANGE = "amq.default"


@cache
def _definitions() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITIONS.read_text())
    return loaded


def _permissions(user: str) -> dict[str, re.Pattern[str]]:
    [grant] = [
        grant
        for grant in _definitions()["permissions"]
        if grant["user"] == user and grant["vhost"] == VHOST
    ]
    return {kind: re.compile(grant[kind]) for kind in ("configure", "write", "read")}


def _may(user: str, kind: str, name: str) -> bool:
    return _permissions(user)[kind].search(name) is not None


def _worker_queues() -> list[str]:
    """Every queue the worker declares: consuming, dead-letter and default-tier delay queues."""
    names = [spec.name for spec in QUEUES] + [spec.dead_letter_queue for spec in QUEUES]
    names += [
        delay_queue(spec, seconds).name for spec in QUEUES for seconds in DEFAULT_RETRY_DELAYS
    ]
    return names


def _remote_control_names() -> list[str]:
    """Celery's remote control (inspect, Flower) and events, as the worker user uses them."""
    mailbox = worker_app.control.mailbox
    return [
        mailbox.exchange.name,
        mailbox.reply_exchange.name,
        mailbox.get_queue("worker@host").name,
        mailbox.get_reply_queue().name,
        worker_app.conf.event_exchange,
        f"{worker_app.conf.event_queue_prefix}.0f4c2a",
    ]


# Worker: what it does to each entity, by the operation's permission kind.
_WORKER_GRANTS = [
    # Declares and binds its queues, consumes them (operators read the dead letters).
    *[(queue, kind) for queue in _worker_queues() for kind in ("configure", "write", "read")],
    # Declares both exchanges it binds to; binding a queue needs read on its exchange.
    (events_exchange.name, "configure"),
    (events_exchange.name, "read"),
    (dead_letter_exchange.name, "configure"),
    (dead_letter_exchange.name, "read"),
    # Publishes dead letters, and retries and requeues through the default exchange.
    (dead_letter_exchange.name, "write"),
    (DEFAULT_EXCHANGE, "write"),
    *[(name, kind) for name in _remote_control_names() for kind in ("configure", "write", "read")],
]


@pytest.mark.parametrize(("name", "kind"), _WORKER_GRANTS, ids=lambda value: str(value))
def test_the_worker_may_do_what_it_does(name: str, kind: str) -> None:
    assert _may(WORKER_USER, kind, name), f"{WORKER_USER} needs {kind} on {name!r}"


def _topic_write(user: str) -> re.Pattern[str]:
    [grant] = [
        grant
        for grant in _definitions()["topic_permissions"]
        if grant["user"] == user
        and grant["vhost"] == VHOST
        and grant["exchange"] == events_exchange.name
    ]
    return re.compile(grant["write"])


def test_the_worker_publishes_its_result_events_and_no_other() -> None:
    # It may write to the topic exchange, but only with the routing keys of the
    # results it declares (topic permissions); retries never go that way.
    assert _may(WORKER_USER, "write", events_exchange.name)
    allowed = _topic_write(WORKER_USER)
    results = set(publications())
    assert results, "the worker declares no result event"
    for event_type in EVENT_TYPES:
        assert bool(allowed.search(event_type)) == (event_type in results), (
            f"{event_type}: the worker's topic permission on {events_exchange.name} in "
            "definitions.json must allow exactly the results it declares (results.publishes)"
        )


def test_the_worker_cannot_touch_other_services_queues() -> None:
    for kind in ("configure", "write", "read"):
        assert not _may(WORKER_USER, kind, "other-service.inbox"), kind


def test_the_web_may_publish_events_and_its_own_dead_letters_only() -> None:
    assert _may(WEB_USER, "write", events_exchange.name)
    assert _may(WEB_USER, "write", WEB_DEAD_LETTER_EXCHANGE)
    for name in (dead_letter_exchange.name, DEFAULT_EXCHANGE):
        assert not _may(WEB_USER, "write", name), name
    for kind in ("configure", "read"):
        assert not _may(WEB_USER, kind, events_exchange.name), kind


def test_the_web_reads_its_own_queue_and_declares_nothing() -> None:
    assert _may(WEB_USER, "read", WEB_RESULTS_QUEUE)
    for name in (WEB_RESULTS_QUEUE, WEB_DEAD_LETTER_QUEUE, WEB_DEAD_LETTER_EXCHANGE):
        assert not _may(WEB_USER, "configure", name), name
    # Its dead letters are for operators (the administrator), not for the web to read.
    assert not _may(WEB_USER, "read", WEB_DEAD_LETTER_QUEUE)


def test_the_worker_touches_no_web_queue() -> None:
    for name in (WEB_RESULTS_QUEUE, WEB_DEAD_LETTER_QUEUE, WEB_DEAD_LETTER_EXCHANGE):
        for kind in ("configure", "write", "read"):
            assert not _may(WORKER_USER, kind, name), f"{WORKER_USER} may {kind} {name!r}"


def test_the_webs_queue_is_defined_with_its_arguments_and_bound_to_the_results() -> None:
    # The web's user may not declare, so the definitions declare its queue,
    # exchange and bindings, exactly as ``consume_events`` would.
    queues = {q["name"]: q for q in _definitions()["queues"] if q["vhost"] == VHOST}
    assert queues[WEB_RESULTS_QUEUE]["arguments"] == web_queue_arguments()
    assert queues[WEB_DEAD_LETTER_QUEUE]["arguments"] == {"x-queue-type": "quorum"}
    exchanges = {e["name"]: e for e in _definitions()["exchanges"] if e["vhost"] == VHOST}
    assert exchanges[WEB_DEAD_LETTER_EXCHANGE]["type"] == "direct"
    bindings = {
        (b["source"], b["destination"], b["routing_key"])
        for b in _definitions()["bindings"]
        if b["vhost"] == VHOST
    }
    # Bound by what the worker publishes: every result reaches the web.
    expected = {(events_exchange.name, WEB_RESULTS_QUEUE, key) for key in publications()} | {
        (WEB_DEAD_LETTER_EXCHANGE, WEB_DEAD_LETTER_QUEUE, WEB_DEAD_LETTER_QUEUE)
    }
    assert expected == bindings, (
        f"definitions.json must bind {WEB_RESULTS_QUEUE} by each result the worker publishes: "
        f"missing {sorted(expected - bindings)}, extra {sorted(bindings - expected)}"
    )


@pytest.mark.parametrize("queue", _worker_queues())
def test_the_web_touches_no_worker_queue(queue: str) -> None:
    for kind in ("configure", "write", "read"):
        assert not _may(WEB_USER, kind, queue), f"{WEB_USER} may {kind} {queue!r}"


def test_defined_exchanges_are_declared_alike_by_the_worker() -> None:
    # An exchange declared with other properties refuses the worker's
    # declaration (PRECONDITION_FAILED), so the definitions must say the same.
    defined = {
        exchange["name"]: exchange
        for exchange in _definitions()["exchanges"]
        if exchange["vhost"] == VHOST
    }
    for exchange in (events_exchange, dead_letter_exchange):
        assert exchange.name in defined
        assert defined[exchange.name]["type"] == exchange.type
        assert defined[exchange.name]["durable"] is exchange.durable
        assert defined[exchange.name]["auto_delete"] is False


def test_defined_worker_queues_carry_the_workers_arguments() -> None:
    # The definitions may leave the queues to the worker (they do); any worker
    # queue they define must have exactly the arguments the worker declares.
    expected: dict[str, dict[str, Any]] = {}
    for spec in QUEUES:
        expected[spec.name] = queue_arguments(spec)
        expected[spec.dead_letter_queue] = dict(dead_letter_queue(spec).queue_arguments)
        for seconds in DEFAULT_RETRY_DELAYS:
            queue = delay_queue(spec, seconds)
            expected[queue.name] = dict(queue.queue_arguments)
    for queue in _definitions()["queues"]:
        if queue["vhost"] == VHOST and queue["name"].startswith("courier.worker."):
            assert queue["name"] in expected, f"the worker declares no queue {queue['name']!r}"
            assert queue["arguments"] == expected[queue["name"]], queue["name"]


def test_dead_letter_queues_keep_their_letters_however_often_they_are_read() -> None:
    # RabbitMQ 4.0-4.2 drop a quorum queue's message once it has been returned
    # 20 times (its default delivery limit), and `courier-worker dead-letters
    # list` returns every letter it reads: the policy lifts the limit there only.
    [policy] = [p for p in _definitions()["policies"] if p["name"] == "courier-keep-dead-letters"]
    pattern = re.compile(policy["pattern"])
    assert policy["vhost"] == VHOST
    assert policy["apply-to"] == "queues"
    assert set(policy["definition"]) == {"delivery-limit"}
    assert policy["definition"]["delivery-limit"] >= 1_000_000
    for spec in QUEUES:
        assert pattern.search(spec.dead_letter_queue), spec.dead_letter_queue
        # The consuming queues keep their own limit (20, then dead-lettered), delay queues none.
        assert not pattern.search(spec.name), spec.name
        for seconds in DEFAULT_RETRY_DELAYS:
            assert not pattern.search(delay_queue(spec, seconds).name)
