"""`courier-web outbox status|replay|prune` against PostgreSQL, as operators run them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.component.test_relay_postgres import (  # noqa: F401 (postgres_url is a fixture)
    courier_web,
    postgres_url,
    web_env,
)

SEED = """
from datetime import timedelta
from django.utils import timezone
from shared_contracts import ProbeSent
from courier_web.outbox.models import OutboxMessage
from courier_web.outbox.writing import outbox_enqueue
rows = [outbox_enqueue(ProbeSent(sequence=i), correlation_id=f"ops-{i}") for i in range(6)]
old = timezone.now() - timedelta(hours=200)
OutboxMessage.objects.filter(pk__in=[r.pk for r in rows[:3]]).update(
    status="sent", sent_at=old, created_at=old)
OutboxMessage.objects.filter(pk=rows[3].pk).update(status="failed", last_error="unroutable: 312")
print(rows[3].event_id)
"""


def test_status_replay_and_prune_on_postgres(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    env = web_env(postgres_url, "amqp://guest:guest@127.0.0.1:1/%2F", tmp_path)
    courier_web("migrate", "-v", "0", env=env)
    failed_id = courier_web("shell", "-c", SEED, env=env).stdout.strip().splitlines()[-1]

    status = json.loads(courier_web("outbox", "status", "--json", env=env).stdout)
    replay = courier_web("outbox", "replay", "--event-id", failed_id, env=env).stdout
    prune = courier_web("outbox", "prune", env=env).stdout
    after = json.loads(courier_web("outbox", "status", "--json", env=env).stdout)

    assert status["pending"] == 2
    assert status["failed"] == 1
    assert status["failed_rows"][0]["event_id"] == failed_id
    assert status["failed_rows"][0]["reason"] == "unroutable: 312"
    assert failed_id in replay
    assert "deleted 3" in prune
    assert after["pending"] == 3
    assert after["failed"] == 0
