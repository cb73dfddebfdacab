"""`courier-web signals` in the deployed image lists every receiver, from the live registry."""

from __future__ import annotations

import json

from ..support.stack import Stack


def test_the_catalog_lists_the_receivers_and_the_events_they_emit(stack: Stack) -> None:
    assert stack.web is not None

    code, output = stack.web.run("courier-web", "signals", "--format", "json")

    assert code == 0, output
    rows = json.loads(output[output.index("[") :])
    by_receiver = {(r["signal"], r["sender"], r["receiver"]): r for r in rows}
    registered = by_receiver[
        ("post_save", "users.User", "courier_web.users.events: emits(UserRegistered)")
    ]
    assert registered["emits"] == "user.registered.v1"
    assert registered["runs"] == "in transaction"
    assert (
        by_receiver[("post_save", "users.User", "courier_web.stats.signals.user_created")]["runs"]
        == "on commit"
    )
    assert ("post_bulk_create", "users.User", "courier_web.users.signals.create_profiles") in (
        by_receiver
    )
    assert all(r["receiver"].startswith("courier_web.") for r in rows)

    code, markdown = stack.web.run("courier-web", "signals", "--format", "markdown")
    assert code == 0, markdown
    assert markdown.count("\n| `") == len(rows)
