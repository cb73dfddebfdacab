"""The outbox under faults: a rollback, two relays racing, a relay dying after a confirm.

Rows are created by the real ``user_create`` inside the web container
(``courier-web shell``); a tap queue bound to ``user.registered.v1`` counts,
by event id, exactly what reached the exchange.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from shared_contracts import UserRegistered

from ..support.accounting import json_lines, outbox_rows
from ..support.clients import WebClient
from ..support.containers import Relay
from ..support.polling import wait_until
from ..support.stack import Stack
from .helpers import (
    Tap,
    container_status,
    create_pending_registrations,
    extra_relay,
    outbox_status,
    start_relay_again,
    web_shell,
)

log = logging.getLogger(__name__)

#: ``courier_web.outbox.failpoints.EXIT_STATUS``
FAILPOINT_EXIT_STATUS = 70


@pytest.fixture
def tap(stack: Stack) -> Iterator[Tap]:
    queue = Tap(stack)
    yield queue
    queue.delete()


@pytest.fixture
def relay_stopped(stack: Stack) -> Iterator[Relay]:
    """The session relay stopped for the test; running again afterwards."""
    assert stack.relay is not None
    stack.relay.docker_stop()
    yield stack.relay
    if container_status(stack.relay) != "running":
        start_relay_again(stack.relay)


@pytest.fixture
def relays(stack: Stack) -> Iterator[list[Relay]]:
    """Relay containers a test starts; stopped and removed afterwards."""
    started: list[Relay] = []
    yield started
    for relay in started:
        with contextlib.suppress(Exception):
            relay.stop()


def _published_by(relay: Relay) -> Counter[str]:
    """The registrations ``relay`` published (a registration also writes its audit events)."""
    return Counter(
        str(record["event_id"])
        for record in json_lines(relay.logs())
        if record.get("event") == "outbox.published"
        and record.get("event_type") == "user.registered.v1"
    )


def _registrations_first(stack: Stack, domain: str) -> None:
    """Make the registrations at ``domain`` the oldest pending rows.

    A registration writes its audit events in the same transaction; a relay
    claims the oldest rows first, and this test needs its first claim to be
    a registration, which the tap sees.
    """
    with (
        psycopg.connect(stack.postgres.url("courier_web"), connect_timeout=5) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE outbox_outboxmessage SET created_at = created_at - interval '1 hour' "
            "WHERE status = 'pending' AND event_type = %s AND body LIKE %s",
            (UserRegistered.event_type, f'%@{domain}"%'),
        )


def test_a_rolled_back_registration_emits_no_event_and_no_email(
    stack: Stack, web: WebClient, domain: str, settle: Callable[..., Any], tap: Tap
) -> None:
    email = f"rollback@{domain}"
    code = f"""
import json
from django.db import transaction
from courier_web.outbox.models import OutboxMessage
from courier_web.users.models import User
from courier_web.users.services import user_create

class Abort(Exception):
    pass

seen = {{}}
try:
    with transaction.atomic():
        user = user_create(email={email!r}, password="correct-horse-9")
        row = OutboxMessage.objects.get(
            event_type={UserRegistered.event_type!r}, body__contains={email!r}
        )
        seen.update(user_id=user.pk, event_id=str(row.event_id), status=row.status)
        raise Abort("the caller's transaction fails after the user row was saved")
except Abort:
    pass
seen.update(
    users_after=User.objects.filter(email={email!r}).count(),
    rows_after=OutboxMessage.objects.filter(event_id=seen["event_id"]).count(),
)
print(json.dumps(seen))
"""
    seen = web_shell(stack, code)

    # Inside the transaction the user and its outbox row existed; the rollback took both.
    assert seen["user_id"], seen
    assert seen["status"] == "pending", seen
    assert (seen["users_after"], seen["rows_after"]) == (0, 0), seen
    # A committed registration right after proves the pipeline flows end to end...
    witness = web.register(f"witness@{domain}")
    assert witness.status_code == 201, witness.text
    rows = outbox_rows(stack, domain)
    assert len(rows) == 1
    assert seen["event_id"] not in rows
    settle(domain=domain, produced=rows)
    # ...so the rolled-back event's absence on the exchange and in the sink is not slowness.
    wait_until(lambda: set(rows) <= set(tap.drain()), timeout=30, what="the witness on the tap")
    assert seen["event_id"] not in tap.seen
    assert [m["rcpt_tos"] for m in stack.smtp.messages_to(domain)] == [[f"witness@{domain}"]]


def test_two_relays_racing_over_1000_rows_publish_each_once(
    stack: Stack,
    domain: str,
    settle: Callable[..., Any],
    tap: Tap,
    relay_stopped: Relay,
    relays: list[Relay],
    note: Callable[[str], None],
) -> None:
    """Both relays are polling before the 1000 rows commit (in one transaction), so both
    find the same pending backlog at once and must split it between them."""
    racers = [extra_relay(stack, OUTBOX_BATCH_SIZE="20") for _ in range(2)]
    relays.extend(racers)
    starters = [threading.Thread(target=relay.start) for relay in racers]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(timeout=120)
    for relay in racers:
        wait_until(
            lambda relay=relay: '"outbox.relay_started"' in relay.logs(),
            timeout=120,
            what="both relays to poll the outbox",
        )

    create_pending_registrations(stack, domain, 1000)
    rows = outbox_rows(stack, domain)
    assert len(rows) == 1000

    wait_until(
        lambda: set(outbox_rows(stack, domain).values()) == {"sent"},
        timeout=120,
        what="the two relays to mark all 1000 rows sent",
    )
    # Routed before confirmed, confirmed before marked sent: every copy is in the tap now.
    seen = tap.drain()
    assert set(seen) == set(rows), f"{len(set(rows) - set(seen))} rows never published"
    twice = {event_id: count for event_id, count in seen.items() if count > 1}
    assert not twice, f"{len(twice)} rows published more than once, e.g. {list(twice)[:3]}"
    shares = [_published_by(relay) for relay in racers]
    note(f"rows published per relay: {[sum(share.values()) for share in shares]}")
    assert sum(shares, Counter()) == Counter(dict.fromkeys(rows, 1))
    assert all(shares), f"one relay published nothing, no race: {[len(s) for s in shares]}"

    settle(domain=domain, produced=rows)


def test_relay_killed_between_confirm_and_mark_sent_republishes_and_the_worker_absorbs_it(
    stack: Stack,
    domain: str,
    settle: Callable[..., Any],
    tap: Tap,
    relay_stopped: Relay,
    relays: list[Relay],
    note: Callable[[str], None],
) -> None:
    create_pending_registrations(stack, domain, 5)
    rows = outbox_rows(stack, domain)
    assert len(rows) == 5
    _registrations_first(stack, domain)

    # One row per batch: the process exits right after the broker confirmed the first.
    doomed = extra_relay(stack, OUTBOX_FAILPOINT="exit-after-confirm", OUTBOX_BATCH_SIZE="1")
    relays.append(doomed)
    doomed.start()
    wait_until(
        lambda: container_status(doomed) == "exited",
        timeout=60,
        what="the relay to exit at its failpoint",
    )
    state = doomed.get_wrapped_container().attrs["State"]
    assert state["ExitCode"] == FAILPOINT_EXIT_STATUS, state
    assert '"outbox.failpoint"' in doomed.logs()

    confirmed = wait_until(lambda: dict(tap.drain()), timeout=30, what="the confirmed copy")
    assert len(confirmed) == 1, confirmed
    assert set(confirmed) <= set(rows), confirmed
    (republished,) = confirmed
    # The broker has it; the database does not know: still pending.
    assert outbox_rows(stack, domain)[republished] == "pending"
    assert outbox_status(stack)["pending"] >= 5

    # A healthy relay takes over and publishes every pending row, that one again.
    assert stack.relay is not None
    start_relay_again(stack.relay)
    wait_until(
        lambda: set(outbox_rows(stack, domain).values()) == {"sent"},
        timeout=60,
        what="the relay to publish the pending rows",
    )
    seen = tap.drain()
    assert seen == Counter(dict.fromkeys(rows, 1)) + Counter({republished: 1}), seen

    result = settle(domain=domain, produced=rows)
    assert result.duplicates_suppressed == 1, "the second copy was not turned away"
    note(f"failpoint relay exited after the confirm of {republished}; republished, suppressed")
