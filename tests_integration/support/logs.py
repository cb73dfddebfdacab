"""Reading the stack's container logs: every service writes JSON lines (structlog)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .containers import ServiceContainer
from .stack import Stack


def stack_containers(stack: Stack) -> list[ServiceContainer]:
    """Every container of the stack: broker, database, SMTP sink, web, relay and workers."""
    services: list[ServiceContainer | None] = [
        stack.rabbitmq,
        stack.postgres,
        stack.smtp,
        stack.web,
        stack.relay,
        *stack.workers,
    ]
    return [container for container in services if container is not None]


def all_logs(stack: Stack) -> dict[str, str]:
    """Each container's whole log (stdout and stderr), by a readable name."""
    return {
        f"{c.alias}:{c.get_wrapped_container().short_id}": c.logs() for c in stack_containers(stack)
    }


def json_records(text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The JSON objects in a log, with their raw line (a line may carry a prefix)."""
    for line in text.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(record, dict):
            yield line[start:], record
