"""The audit trail end to end: a change over HTTP, read back with the worker's own command.

A user renames themselves with a chosen X-Request-ID, then deletes their
account; `courier-worker audit ... --json`, run in the worker container,
shows the update (the field's name, the user as actor, the request id) and
the deletions of the user and of their profile, and nothing secret; the
worker's read model of users (what reports list) takes the new name, then
forgets the user.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..support.clients import WebClient
from ..support.polling import wait_until
from ..support.stack import Stack

PASSWORD = "correct-horse-9"


def _trail(stack: Stack, entity: str, entity_id: int) -> list[dict[str, Any]]:
    worker = stack.workers[0]
    code, output = worker.run("courier-worker", "audit", entity, str(entity_id), "--json")
    assert code == 0, output
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _raw_trail(stack: Stack, entity: str, entity_id: int) -> str:
    code, output = stack.workers[0].run("courier-worker", "audit", entity, str(entity_id))
    assert code == 0, output
    return output


def _read_model(stack: Stack, user_id: int) -> tuple[int, str]:
    """``courier-worker read-model show``: its exit code and what it printed."""
    return stack.workers[0].run("courier-worker", "read-model", "show", str(user_id))


def _wait_for(
    stack: Stack, entity: str, entity_id: int, actions: list[str], what: str
) -> list[dict[str, Any]]:
    """The record's trail once it holds exactly ``actions`` (in this order: oldest first)."""

    def trail_with_it() -> list[dict[str, Any]] | None:
        rows = _trail(stack, entity, entity_id)
        return rows if [row["action"] for row in rows] == actions else None

    return wait_until(trail_with_it, timeout=60, what=what, interval=0.5)


def test_a_rename_and_a_deletion_appear_in_the_workers_audit_trail(
    stack: Stack, web: WebClient, domain: str
) -> None:
    email = f"audit@{domain}"
    created = web.register(email, password=PASSWORD)
    assert created.status_code == 201, created.text
    user_id = int(created.json()["id"])
    issued = web.session.post(
        f"{web.base_url}/api/tokens", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}

    rename_id = f"audit-rename-{uuid.uuid4().hex[:12]}"
    renamed = web.session.patch(
        f"{web.base_url}/api/users/{user_id}",
        json={"display_name": "Ada Audited"},
        headers={**auth, "X-Request-ID": rename_id},
        timeout=30,
    )
    assert renamed.status_code == 200, renamed.text

    created_then_renamed = ["created", "updated"]
    rows = _wait_for(stack, "user", user_id, created_then_renamed, f"the rename of {user_id}")
    update = rows[1]
    assert update["changed_fields"] == ["display_name"]
    assert update["actor_id"] == user_id
    assert update["correlation_id"] == rename_id
    assert [row["version"] for row in rows] == [1, 2]
    shown = wait_until(
        lambda: (
            (result := _read_model(stack, user_id))[0] == 0
            and '"Ada Audited"' in result[1]
            and result[1]
        ),
        timeout=60,
        what=f"the read model to take the new name of {user_id}",
        interval=0.5,
    )
    assert f'"email": "{email}"' in shown

    delete_id = f"audit-delete-{uuid.uuid4().hex[:12]}"
    deleted = web.session.delete(
        f"{web.base_url}/api/users/{user_id}",
        headers={**auth, "X-Request-ID": delete_id},
        timeout=30,
    )
    assert deleted.status_code == 204, deleted.text

    user_rows = _wait_for(
        stack, "user", user_id, [*created_then_renamed, "deleted"], f"the deletion of {user_id}"
    )
    profile_rows = _wait_for(
        stack, "profile", user_id, ["created", "deleted"], f"the deletion of {user_id}'s profile"
    )
    assert [row["version"] for row in user_rows] == [1, 2, 3]
    assert [row["version"] for row in profile_rows] == [1, 2]
    for rows in (user_rows, profile_rows):
        deletion = rows[-1]
        assert deletion["changed_fields"] == []
        assert (deletion["actor_id"], deletion["correlation_id"]) == (user_id, delete_id)

    forgotten = wait_until(
        lambda: (result := _read_model(stack, user_id))[0] == 1 and result[1],
        timeout=60,
        what=f"the read model to forget {user_id}",
        interval=0.5,
    )
    assert f"user {user_id}: deleted" in forgotten
    assert email not in forgotten

    everything = json.dumps(user_rows + profile_rows) + _raw_trail(stack, "user", user_id)
    for secret in (PASSWORD, token, email, "Ada Audited", "pbkdf2", "md5$", "cwt_"):
        assert secret not in everything, secret
