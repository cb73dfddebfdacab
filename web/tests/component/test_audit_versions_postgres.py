"""Audit versions on PostgreSQL: concurrent changes of one record are numbered in commit order.

Two threads of one ``courier-web shell``, each with its own connection, change
the same user: the first holds its transaction open after its save; the
second's UPDATE waits on the row, and its version follows the first's commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.component.test_relay_postgres import (  # noqa: F401 (postgres_url is a fixture)
    courier_web,
    postgres_url,
    web_env,
)

RACE = """
import json, threading, time
from django.db import connection, transaction
from shared_contracts import decode
from courier_web.correlation import bound_request_id
from courier_web.outbox.models import OutboxMessage
from courier_web.outbox.publishing import wire_message
from courier_web.users.models import User
from courier_web.users.services import user_create, user_update

user = user_create(email="race@example.com", password="correct-horse-battery-9")
first_saved = threading.Event()
committed = []

def rename(name, hold):
    try:
        with bound_request_id(name), transaction.atomic():
            user_update(user=User.objects.get(pk=user.pk), display_name=name)
            if hold:
                first_saved.set()
                time.sleep(1.0)  # the second thread's UPDATE waits on the row meanwhile
        committed.append(name)
    finally:
        connection.close()

first = threading.Thread(target=rename, args=("first", True))
first.start()
assert first_saved.wait(10)
second = threading.Thread(target=rename, args=("second", False))
second.start()
first.join(); second.join()

versions = {}
for row in OutboxMessage.objects.filter(event_type="entity.changed.v1"):
    wire = wire_message(row)
    envelope = decode(wire.body, wire.headers)
    if envelope.payload.action == "updated":
        versions[envelope.correlation_id] = envelope.payload.version
print(json.dumps({"committed": committed, "versions": versions}))
"""


def test_concurrent_changes_get_versions_in_commit_order(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = web_env(postgres_url, "amqp://guest:guest@127.0.0.1:1/%2F", tmp_path)
    courier_web("migrate", "-v", "0", env=env)

    output = courier_web("shell", "-c", RACE, env=env).stdout
    report = json.loads(output.strip().splitlines()[-1])

    assert report["committed"] == ["first", "second"]
    assert report["versions"] == {"first": 2, "second": 3}
