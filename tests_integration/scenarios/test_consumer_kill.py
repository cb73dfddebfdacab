"""Killing the web's consumer while results arrive loses none and applies none twice."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import psycopg
import pytest

from ..support.clients import WebClient
from ..support.containers import Consumer
from ..support.polling import wait_until
from ..support.stack import Stack

PASSWORD = "correct-horse-9"
DOCUMENTS = 40
REPORTS = 10


@pytest.fixture(autouse=True)
def consumer(stack: Stack) -> Consumer:
    """The web's consumer applies the results these tests wait for."""
    return stack.ensure_consumer()


def test_results_survive_the_consumer_being_killed(
    stack: Stack, web: WebClient, domain: str
) -> None:
    assert stack.consumer is not None
    email = f"kill@{domain}"
    assert web.register(email, password=PASSWORD).status_code == 201
    token = web.token(email, PASSWORD)
    today = str(datetime.now(UTC).date())
    with psycopg.connect(stack.postgres.url("courier_web")) as conn:
        started = conn.execute("SELECT now()").fetchone()
    killed = stack.consumer
    consumed_before = killed.logs().count('"event.consumed"')

    reports = []
    for _ in range(REPORTS):
        body = {"kind": "signups", "from": today, "to": today}
        answer = web.call("POST", "/api/reports", token=token, json=body)
        assert answer.status_code == 202, answer.text
        reports.append(answer.json()["id"])
    documents = []
    for n in range(DOCUMENTS):
        data = f"n,label\n{n},row {n}\n".encode()
        answer = web.call(
            "POST", "/api/documents", token=token, files={"file": ("d.csv", io.BytesIO(data))}
        )
        assert answer.status_code == 202, answer.text
        documents.append(answer.json()["id"])

    try:
        # Killed in the middle of the results: some applied, the others still to come.
        wait_until(
            lambda: killed.logs().count('"event.consumed"') > consumed_before,
            timeout=60,
            what="the consumer to apply a first result",
            interval=0.05,
        )
        killed.kill()
        replacement = stack.start_consumer()
        wait_until(
            lambda: settled(web, token, "/api/reports", reports, "completed"),
            timeout=180,
            what="every report",
        )
        wait_until(
            lambda: settled(web, token, "/api/documents", documents, "processed"),
            timeout=180,
            what="every document",
        )
    finally:
        killed_logs = killed.logs()
        killed.stop()  # removes the dead container
    # Each settled by exactly one result event in the web's database: nothing was lost,
    # and no result was applied under a second event id.
    with psycopg.connect(stack.postgres.url("courier_web")) as conn:
        consumed = conn.execute(
            "SELECT event_type, count(*) FROM consumer_consumed_event"
            " WHERE consumed_at >= %s GROUP BY event_type",
            started,
        ).fetchall()
    counts = dict(consumed)
    assert counts.get("report.completed.v1") == REPORTS, counts
    assert counts.get("document.processed.v1") == DOCUMENTS, counts
    assert "consumer.stopped" not in killed_logs  # it was killed, not stopped
    assert replacement.logs().count('"event.consumed"') >= 1


def settled(web: WebClient, token: str, path: str, ids: list[str], final: str) -> bool:
    for item in ids:
        answer = web.call("GET", f"{path}/{item}", token=token)
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] == "pending":
            return False
        assert answer.json()["status"] == final, answer.json()
    return True
