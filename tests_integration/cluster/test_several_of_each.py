"""Several of each: two webs, two relays and three workers on the three-node cluster.

Registrations are spread over both web containers; both relays publish the
outbox rows (``SKIP LOCKED`` hands each row to one of them), all three workers
consume, and every registration is emailed exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..support.accounting import outbox_rows
from ..support.cluster_stack import ClusterStack
from .gaps import count_by_log
from .traffic import RegistrationStream

REGISTRATIONS = 2000
PER_SECOND = 40


def test_two_webs_two_relays_and_three_workers_email_every_registration_once(
    healed: ClusterStack, domain: str, settle: Callable[..., Any], note: Callable[[str], None]
) -> None:
    stack = healed
    assert (len(stack.webs), len(stack.relays), len(stack.workers)) == (2, 2, 3)
    stream = RegistrationStream(
        [web.base_url for web in stack.webs],
        domain,
        count=REGISTRATIONS,
        per_second=PER_SECOND,
        threads=6,
    )

    answers = stream.start().finish()

    assert answers == {201: REGISTRATIONS}, answers
    assert sorted(stream.per_web().values()) == [REGISTRATIONS // 2] * 2
    rows = outbox_rows(stack, domain)
    assert len(rows) == REGISTRATIONS
    settle(domain=domain, produced=rows, timeout=300)
    relays = {f"relay-{n}": r.logs() for n, r in enumerate(stack.relays, start=1)}
    published = count_by_log(relays, "outbox.published", rows)
    handled = count_by_log({w.alias: w.logs() for w in stack.workers}, "event.handled", rows)
    note(f"published per relay {published}; handled per worker {handled}")
    assert sum(published.values()) == REGISTRATIONS, published
    assert all(count > 0 for count in published.values()), published
    assert sum(handled.values()) == REGISTRATIONS, handled
    assert all(count > 0 for count in handled.values()), handled
