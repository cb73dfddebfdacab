"""One grep follows a request: the HTTP line, the publish line and the worker's line.

A registration with a chosen X-Request-ID; afterwards the id is looked for in
every container's log and must be found in the web's access line
(`http.request`), the publish line (`outbox.published`, from web or relay) and
the worker's handling line (`event.handled`) — the same event in both.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from ..support.clients import WebClient
from ..support.logs import all_logs, json_records
from ..support.polling import wait_until
from ..support.stack import Stack

log = logging.getLogger(__name__)


def _lines_with(stack: Stack, request_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(container, raw line, record) for every JSON log line that mentions the id."""
    found = []
    for name, text in all_logs(stack).items():
        for raw, record in json_records(text):
            if request_id in raw:
                found.append((name, raw, record))
    return found


def test_one_request_id_finds_the_http_publish_and_worker_lines(
    stack: Stack, web: WebClient, domain: str
) -> None:
    request_id = f"corr-{uuid.uuid4().hex[:16]}"
    response = web.register(f"trace@{domain}", request_id=request_id)
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-ID"] == request_id

    def three_lines() -> dict[str, tuple[str, str, dict[str, Any]]] | None:
        found: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for name, raw, record in _lines_with(stack, request_id):
            event = record.get("event")
            if event == "http.request" and record.get("request_id") == request_id:
                found.setdefault("http", (name, raw, record))
            elif record.get("event_type") != "user.registered.v1":
                continue  # the same request's other events (its audit trail's)
            elif event == "outbox.published" and record.get("correlation_id") == request_id:
                found.setdefault("publish", (name, raw, record))
            elif event == "event.handled" and record.get("correlation_id") == request_id:
                found.setdefault("worker", (name, raw, record))
        return found if len(found) == 3 else None

    found = wait_until(
        three_lines, timeout=60, what=f"the three log lines of {request_id}", interval=1
    )

    http_name, _, http = found["http"]
    publish_name, _, published = found["publish"]
    worker_name, _, handled = found["worker"]
    assert http_name.startswith("web:")
    assert http["method"] == "POST"
    assert http["path"] == "/api/users"
    assert http["status"] == 201
    assert publish_name.startswith(("web:", "relay:"))
    assert published["event_type"] == "user.registered.v1"
    assert worker_name.startswith("worker-")
    assert handled["event_type"] == "user.registered.v1"
    assert handled["event_id"] == published["event_id"]
    for kind in ("http", "publish", "worker"):
        log.info("%s line (%s): %s", kind, found[kind][0], found[kind][1])
