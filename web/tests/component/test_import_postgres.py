"""An import on PostgreSQL costs the same statements for 10 users as for 1,000.

PostgreSQL has no limit on a statement's parameters that Django would split a
bulk insert for (SQLite's 999 does), so every table takes one INSERT whatever
the number of rows. Runs ``courier-web shell`` against a database of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.component.test_relay_postgres import (  # noqa: F401 (postgres_url is a fixture)
    courier_web,
    postgres_url,
    web_env,
)

MEASURE = """
import json
from django.db import connection
from django.test.utils import CaptureQueriesContext
from courier_web.outbox.models import OutboxMessage
from courier_web.users.importing import ImportRow, user_import
from courier_web.users.models import Profile
measured = {}
for count in (10, 1000):
    rows = [ImportRow(f"u{count}-{n}@example.com") for n in range(count)]
    with CaptureQueriesContext(connection) as captured:
        result = user_import(rows=rows)
    # Each statement's verb and table, without values or savepoint names.
    shapes = [q["sql"].split(" (")[0].split(' "s')[0][:40] for q in captured.captured_queries]
    measured[count] = {"created": len(result.created), "statements": shapes}
measured["registered"] = OutboxMessage.objects.filter(event_type="user.registered.v1").count()
measured["profiles"] = Profile.objects.count()
print(json.dumps(measured))
"""


def test_importing_1000_users_takes_as_many_statements_as_10(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = web_env(postgres_url, "amqp://guest:guest@127.0.0.1:1/%2F", tmp_path)
    courier_web("migrate", "-v", "0", env=env)

    output = courier_web("shell", "-c", MEASURE, env=env).stdout.strip().splitlines()[-1]
    measured = json.loads(output)

    few, many = measured["10"], measured["1000"]
    assert (few["created"], many["created"]) == (10, 1000)
    assert few["statements"] == many["statements"], (few, many)
    work = [
        s
        for s in few["statements"]
        if not s.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]
    assert work == [
        'SELECT LOWER("users_user"."email") AS "e',  # which emails are registered
        'INSERT INTO "users_user"',
        'INSERT INTO "outbox_outboxmessage"',  # every user's events
        'INSERT INTO "users_profile"',
        'INSERT INTO "outbox_outboxmessage"',  # every profile's events
    ]
    assert measured["registered"] == 1010
    assert measured["profiles"] == 1010
