"""``courier-web signals``: the catalog of every receiver, and docs/signals.md made from it."""

from __future__ import annotations

import io
import json
import weakref
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models.signals import post_save
from shared_contracts import ProbeSent

from courier_web.catalog.registry import watched_signals
from courier_web.catalog.render import REGENERATE
from courier_web.users.models import User
from tests.declarations import declared

DOC = Path(__file__).resolve().parents[4] / "docs" / "signals.md"


def signals(*args: str) -> str:
    out = io.StringIO()
    call_command("signals", *args, stdout=out)
    return out.getvalue()


def rows(*args: str) -> list[dict[str, Any]]:
    return list(json.loads(signals("--format", "json", *args)))


def connected_project_receivers() -> int:
    """Counted straight from Django's registry: every live receiver defined in courier_web."""
    count = 0
    for signal in watched_signals().values():
        for _, reference, *_ in signal.receivers:
            receiver = reference() if isinstance(reference, weakref.ReferenceType) else reference
            owner = getattr(receiver, "__self__", None)
            module = getattr(owner, "declared_in", None) or getattr(
                type(owner) if owner is not None else receiver, "__module__", ""
            )
            count += str(module).startswith("courier_web.")
    return count


def test_every_receiver_of_the_service_is_listed() -> None:
    listed = rows()

    assert len(listed) == connected_project_receivers()
    assert len({(r["signal"], r["sender"], r["dispatch_uid"]) for r in listed}) == len(listed)


def test_each_row_says_when_it_runs_and_what_it_emits() -> None:
    by_receiver = {(r["signal"], r["sender"], r["receiver"]): r for r in rows()}

    registered = by_receiver[
        ("post_save", "users.User", "courier_web.users.events: emits(UserRegistered)")
    ]
    profile = by_receiver[("post_save", "users.User", "courier_web.users.signals.create_profile")]
    stats = by_receiver[("post_save", "users.User", "courier_web.stats.signals.user_created")]
    bulk = by_receiver[
        ("post_bulk_create", "users.User", "courier_web.users.signals.create_profiles")
    ]

    assert registered["emits"] == "user.registered.v1"
    assert registered["runs"] == "in transaction"
    assert registered["dispatch_uid"] == "courier.emits:users.User:post_save:user.registered.v1"
    assert (profile["runs"], profile["emits"]) == ("in transaction", None)
    assert (stats["runs"], stats["emits"]) == ("on commit", None)
    assert bulk["runs"] == "in transaction"


def test_a_new_declaration_shows_at_once() -> None:
    with declared(
        ProbeSent, on=post_save, sender=User, build=lambda user, **_: ProbeSent(sequence=1)
    ):
        listed = rows("--all")

    assert any(r["emits"] == ProbeSent.event_type for r in listed)


def test_all_adds_the_receivers_of_django_itself() -> None:
    everything = rows("--all")

    assert len(everything) > len(rows())
    assert any(r["receiver"].startswith("django.contrib.auth.") for r in everything)


def test_markdown_is_a_table_with_a_row_per_receiver() -> None:
    text = signals()

    table = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(table) == len(rows())
    assert (
        "| `post_save` | `users.User` | `courier_web.stats.signals.user_created` | on commit | — |"
        in table
    )


@pytest.mark.django_db
def test_docs_signals_md_is_fresh() -> None:
    assert DOC.read_text() == signals("--format", "markdown"), (
        f"docs/signals.md is stale: regenerate it with {REGENERATE}"
    )
