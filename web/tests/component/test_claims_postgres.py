"""The relay's hand-written claims (``outbox/claims.py``) against the ORM's, on PostgreSQL.

Both paths run in one ``courier-web shell`` on a database created for the
test: the same arguments must claim the same rows with the same values, in the
same order, and ``mark_sent`` must leave the rows as the ORM's update does.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.component.test_relay_postgres import (  # noqa: F401 (postgres_url is a fixture)
    courier_web,
    postgres_url,
    web_env,
)

COMPARE = """
import json
from datetime import timedelta
from django.db import transaction
from django.utils import timezone
from shared_contracts import ProbeSent
from courier_web.outbox import claims
from courier_web.outbox.models import OutboxMessage
from courier_web.outbox.writing import outbox_enqueue

rows = [outbox_enqueue(ProbeSent(sequence=i), correlation_id=f"claim-{i}") for i in range(12)]
pks = [r.pk for r in rows]
base = timezone.now() - timedelta(minutes=10)
# Ties on created_at (rows 3-6 share one) exercise the (created_at, id) order.
for i, pk in enumerate(pks):
    at = base + timedelta(seconds=min(i, 3) if i < 7 else i)
    OutboxMessage.objects.filter(pk=pk).update(created_at=at)
OutboxMessage.objects.filter(pk=pks[1]).update(status="sent")
OutboxMessage.objects.filter(pk=pks[8]).update(status="failed")
OutboxMessage.objects.filter(pk=pks[11]).update(created_at=timezone.now() + timedelta(hours=1))
stored = {r.pk: r.created_at for r in OutboxMessage.objects.all()}

def both(claim):
    found = []
    for postgres in (True, False):
        claims._postgres = lambda postgres=postgres: postgres
        with transaction.atomic():
            found.append(claim())
            transaction.set_rollback(True)
    return found

cases = {
    "ids": lambda: claims.claim_ids([pks[5], pks[1], pks[0], pks[8], 10**9]),
    "oldest": lambda: claims.claim_oldest(limit=5, created_before=timezone.now(), after=None),
    "oldest_all": lambda: claims.claim_oldest(limit=100, created_before=timezone.now(), after=None),
    "after_tie": lambda: claims.claim_oldest(
        limit=3, created_before=timezone.now(), after=(stored[pks[4]], pks[4])),
    "older_than": lambda: claims.claim_oldest(
        limit=100, created_before=stored[pks[3]], after=None),
}
report = {}
for name, claim in cases.items():
    sql, orm = both(claim)
    report[name] = {"equal": sql == orm, "sql": [r.pk for r in sql], "orm": [r.pk for r in orm],
                    "types": sorted({type(r.headers).__name__ for r in sql})}

after = {}
for postgres, pk in ((True, pks[9]), (False, pks[10])):
    claims._postgres = lambda postgres=postgres: postgres
    with transaction.atomic():
        claims.mark_sent([pk])
    row = OutboxMessage.objects.get(pk=pk)
    after[str(postgres)] = [row.status, row.attempts, row.last_error, row.sent_at is not None]
report["mark_sent"] = after
report["pks"] = pks
print(json.dumps(report))
"""


def test_the_sql_and_orm_claims_agree_on_postgres(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    env = web_env(postgres_url, "amqp://guest:guest@127.0.0.1:1/%2F", tmp_path)
    courier_web("migrate", "-v", "0", env=env)
    output = courier_web("shell", "-c", COMPARE, env=env).stdout
    report = json.loads(output.strip().splitlines()[-1])
    pks = report.pop("pks")
    marked = report.pop("mark_sent")

    for name, case in report.items():
        assert case["equal"], (name, case)
        assert case["types"] in ([], ["dict"]), (name, case)
    assert report["ids"]["sql"] == [pks[0], pks[5]]  # sent, failed and unknown ids left out
    assert report["oldest"]["sql"] == [pks[0], pks[2], pks[3], pks[4], pks[5]]
    # Neither the sent, the failed nor the future row; the tie group in id order.
    assert report["oldest_all"]["sql"] == [pks[i] for i in (0, 2, 3, 4, 5, 6, 7, 9, 10)]
    assert report["after_tie"]["sql"] == [pks[5], pks[6], pks[7]]
    assert report["older_than"]["sql"] == [pks[0], pks[2], pks[3], pks[4], pks[5], pks[6]]
    assert marked == {"True": ["sent", 1, "", True], "False": ["sent", 1, "", True]}
