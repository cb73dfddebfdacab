"""JSON logs through structlog, for the worker's own lines and Celery's alike.

Handling code binds ``event_id``, ``event_type`` and ``correlation_id`` with
``structlog.contextvars`` (the consumer around a received message, the task
around its body); every line written meanwhile carries them. Lines written
around the task body by Celery itself in the pool process (e.g. "Task ...
succeeded") get them from the task being traced (``_task_context``). So one
grep for a request id finds the worker's lines. Every line also carries the
``pid`` of the process that wrote it (the main process or one pool child).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog
from celery import current_task
from shared_contracts.topology import CORRELATION_ID_HEADER

_CONTEXT_KEYS = ("event_id", "event_type", "correlation_id")


def _task_context(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Fill in the event's identity from the Celery task being run, where nothing bound it."""
    if all(key in event_dict for key in _CONTEXT_KEYS):
        return event_dict
    # Celery's own lines about a task ("received", "succeeded") carry its id and name.
    data = getattr(event_dict.get("_record"), "data", None)
    if isinstance(data, dict) and data.get("id"):
        event_dict.setdefault("event_id", data["id"])
        event_dict.setdefault("event_type", data.get("name"))
    if not current_task:  # a proxy: false outside a task
        return event_dict
    request = current_task.request
    event_dict.setdefault("event_id", request.id)
    event_dict.setdefault("event_type", current_task.name)
    event_dict.setdefault("correlation_id", vars(request).get(CORRELATION_ID_HEADER))
    return event_dict


def _pid(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("pid", os.getpid())
    return event_dict


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    _task_context,
    _pid,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as one JSON object per line."""
    structlog.configure(
        processors=[
            # First: a line below the level costs a level check, not the whole chain.
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
