"""Flower, from the worker image, on its own least-privileged broker user and behind basic auth.

Its API lists the stack's worker and the tasks it handled: the worker sends
task events (``WORKER_SEND_TASK_EVENTS``), Flower reads them and uses remote
control, both on the suite's RabbitMQ 4, where transient queues must be
exclusive, next to the worker's quorum queues.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..support.celery_tools import RABBITMQ_FLOWER_USER, Flower
from ..support.clients import WebClient
from ..support.polling import wait_until
from ..support.stack import Stack

LOGIN = f"ops:{uuid.uuid4().hex}"


def test_flower_shows_the_workers_and_the_tasks_they_handled(
    stack: Stack, web: WebClient, domain: str
) -> None:
    flower = Flower(
        stack.images.worker,
        stack.network,
        broker_url=stack.rabbitmq.internal_url_for(RABBITMQ_FLOWER_USER),
        login=LOGIN,
    )
    with flower:
        # Without the login, or with another one, nothing but the health check.
        for login in ("", "ops:wrong"):
            status, _ = flower.get("/api/workers", login=login)
            assert status == 401, login
            assert flower.get("/", login=login)[0] == 401

        def workers() -> dict[str, Any] | None:
            status, body = flower.get("/api/workers?refresh=1")
            assert status == 200, body
            return body if isinstance(body, dict) and body else None

        listed = wait_until(workers, timeout=60, what="Flower to list the worker", interval=1)
        assert any(name.startswith("worker@") for name in listed), listed
        # Remote control answered: the worker's queues, as it consumes them.
        queues = {q["name"] for info in listed.values() for q in info.get("active_queues") or []}
        assert {"courier.worker.critical", "courier.worker.bulk"} <= queues, listed

        response = web.register(f"flo@{domain}")
        assert response.status_code == 201, response.text
        wait_until(lambda: stack.smtp.messages_to(domain), timeout=30, what="the welcome email")

        def handled() -> list[dict[str, Any]]:
            status, body = flower.get("/api/tasks?taskname=user.registered.v1&state=SUCCESS")
            assert status == 200, body
            return [task for task in body.values() if task.get("result") == "'handled'"]

        tasks = wait_until(handled, timeout=30, what="Flower to show the handled task", interval=1)
        assert all(task["worker"].startswith("worker@") for task in tasks)
        assert all(task["name"] == "user.registered.v1" for task in tasks)
