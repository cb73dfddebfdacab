"""``WORKER_QUEUES`` in the worker image: a worker of one queue; a wrong name stops it at start."""

from __future__ import annotations

import docker

from ..support.containers import Worker
from ..support.polling import wait_until
from ..support.stack import Stack


def test_a_worker_consumes_only_the_queue_it_is_given(stack: Stack) -> None:
    env = {**stack.worker_env(), "WORKER_QUEUES": "critical"}
    with Worker(stack.images.worker, stack.network, env, alias="worker-critical-only") as worker:
        banner = worker.logs()
    # Celery's start banner lists the queues the worker consumes.
    assert ".> courier.worker.critical " in banner
    assert ".> courier.worker.bulk " not in banner


def test_an_unknown_queue_stops_the_worker_at_start_naming_the_known_ones(stack: Stack) -> None:
    client = docker.from_env()
    container = client.containers.run(
        stack.images.worker,
        environment={**stack.worker_env(), "WORKER_QUEUES": "critical,urgent"},
        network=stack.network.name,
        detach=True,
    )
    try:
        status = wait_until(
            lambda: container.wait(timeout=60), timeout=90, what="the worker to exit"
        )
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status["StatusCode"] != 0, logs
    assert "unknown queue 'urgent'" in logs
    assert "critical (courier.worker.critical), bulk (courier.worker.bulk)" in logs
