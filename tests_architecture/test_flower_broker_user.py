"""Flower's broker user may use Celery's remote control and events, and nothing of Courier's.

The names come from the worker's Celery app (its mailbox and event settings),
as Flower, which loads that app, uses them; the regexes from
``infra/rabbitmq/definitions.json``. RabbitMQ matches them unanchored, like
``re.search``. ``tests_integration/scenarios/test_flower.py`` runs Flower on
this user against a live broker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from courier_worker.celery_app import app as worker_app
from courier_worker.queues import QUEUES
from courier_worker.topology import dead_letter_exchange, events_exchange

DEFINITIONS = Path(__file__).resolve().parent.parent / "infra" / "rabbitmq" / "definitions.json"
FLOWER_USER = "courier-flower"
KINDS = ("configure", "write", "read")


def _grant() -> dict[str, re.Pattern[str]]:
    definitions = json.loads(DEFINITIONS.read_text())
    [user] = [user for user in definitions["users"] if user["name"] == FLOWER_USER]
    assert user["tags"] == []  # no management UI, no administrator
    [grant] = [g for g in definitions["permissions"] if g["user"] == FLOWER_USER]
    assert grant["vhost"] == "courier"
    assert not [g for g in definitions["topic_permissions"] if g["user"] == FLOWER_USER]
    return {kind: re.compile(grant[kind]) for kind in KINDS}


def _celery_names() -> list[str]:
    """Remote control (Flower's inspect/broadcast and their replies) and the event stream."""
    mailbox = worker_app.control.mailbox
    return [
        mailbox.exchange.name,  # celery.pidbox: Flower broadcasts commands
        mailbox.reply_exchange.name,  # reply.celery.pidbox: its reply queue binds to it
        mailbox.get_reply_queue().name,  # <uuid>.reply.celery.pidbox
        worker_app.conf.event_exchange,  # celeryev
        f"{worker_app.conf.event_queue_prefix}.5e1f0c",  # its event receiver's queue
    ]


@pytest.mark.parametrize("name", _celery_names())
@pytest.mark.parametrize("kind", KINDS)
def test_flower_may_use_celerys_control_and_events(name: str, kind: str) -> None:
    assert _grant()[kind].search(name), f"{FLOWER_USER} needs {kind} on {name!r}"


def _courier_names() -> list[str]:
    names = [events_exchange.name, dead_letter_exchange.name, "amq.default"]
    for spec in QUEUES:
        names += [spec.name, spec.dead_letter_queue, spec.delay_queue(5)]
    return [*names, "courier.web.results", "other-service.inbox"]


@pytest.mark.parametrize("name", _courier_names())
def test_flower_touches_no_courier_exchange_or_queue(name: str) -> None:
    grant = _grant()
    for kind in KINDS:
        assert not grant[kind].search(name), f"{FLOWER_USER} may {kind} {name!r}"
