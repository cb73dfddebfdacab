"""Celery tasks: thin adapters from a delivered message to a handler, one per event type.

Each task is registered under its event type (the message's task name),
validates the envelope with ``shared_contracts``, and runs the routed handler
through the idempotency guard. A message that breaks the contracts is
dead-lettered with its reason and acknowledged: retrying cannot fix it.

Retries (issue 4) hook into ``_on_handler_error``. They must not use Celery's
``self.retry()``: that re-publishes through the task's exchange, which for
these tasks is the topic exchange every consuming service is bound to, so
each retry would reach the other services too.
"""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

import structlog
from celery import Celery, Task
from shared_contracts.codec import check_headers
from shared_contracts.topology import CORRELATION_ID_HEADER, WORKER_CRITICAL

from courier_worker.bootstrap import Container, get_container
from courier_worker.deadletter import DeadLetter, classify
from courier_worker.handlers import HANDLERS
from courier_worker.idempotency import Outcome
from courier_worker.topology import spec_for
from shared_contracts import ContractError, Envelope, SchemaViolation, parse_envelope

log = structlog.get_logger(__name__)

#: The Celery protocol v2 headers a dead letter keeps (besides any ``x-`` header).
_PROTOCOL_HEADERS = (
    "lang",
    "task",
    "id",
    "shadow",
    "eta",
    "expires",
    "group",
    "group_index",
    "retries",
    "timelimit",
    "root_id",
    "parent_id",
    "argsrepr",
    "kwargsrepr",
    "origin",
    "ignore_result",
)


def register_tasks(app: Celery) -> None:
    """Register one task per handled event type, named after it."""
    for event_type in HANDLERS:
        app.task(
            name=event_type,
            bind=True,
            shared=False,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
            typing=False,  # the body is checked against the contracts instead
        )(consume_event)


def consume_event(task: Task[Any, Any], /, *args: Any, event: Any = None, **extra: Any) -> str:
    """Validate the delivered envelope and run its handler at most once."""
    request = task.request
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        event_id=request.id,
        event_type=task.name,
        correlation_id=vars(request).get(CORRELATION_ID_HEADER),
    )
    started = time.perf_counter()
    try:
        container = get_container(task.app)
        try:
            envelope = _validate(task, args, event, extra)
        except ContractError as exc:
            _dead_letter(task, container, exc, args, {"event": event, **extra})
            return Outcome.DEAD_LETTERED.value
        structlog.contextvars.bind_contextvars(correlation_id=envelope.correlation_id)
        handler = HANDLERS[envelope.event_type]
        try:
            outcome = container.guard.run(envelope, partial(handler, envelope, container.deps))
        except Exception as exc:
            return _on_handler_error(task, container, exc, args, {"event": event, **extra})
        log.info(
            "event.processed",
            outcome=outcome.value,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return outcome.value
    finally:
        structlog.contextvars.clear_contextvars()


def _validate(
    task: Task[Any, Any], args: tuple[Any, ...], event: Any, extra: dict[str, Any]
) -> Envelope[Any]:
    if args or extra:
        raise SchemaViolation("task takes exactly one keyword argument, 'event'")
    if event is None:
        raise SchemaViolation("task kwargs carry no 'event'")
    envelope = parse_envelope(event)
    check_headers(envelope, {"task": task.name, "id": task.request.id})
    return envelope


def _on_handler_error(
    task: Task[Any, Any],
    container: Container,
    exc: Exception,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> str:
    """A handler failed. Seam for issue 4: schedule a retry with backoff here.

    Until then the event is dead-lettered with reason ``handler-failed`` (an
    operator can requeue it); nothing is recorded as handled, so a requeued
    event runs its side effect.
    """
    log.error("event.failed", exc_info=exc)
    _dead_letter(task, container, exc, args, kwargs)
    return Outcome.DEAD_LETTERED.value


def _dead_letter(
    task: Task[Any, Any],
    container: Container,
    exc: BaseException,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    reason, detail = classify(exc)
    container.dead_letters.publish(_letter_from_request(task, args, kwargs, reason, detail))
    log.warning("event.dead_lettered", reason=reason, detail=detail)


def _letter_from_request(
    task: Task[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    reason: str,
    detail: str,
) -> DeadLetter:
    """Rebuild the delivered message from the task's request (the pool sees no raw message)."""
    request = task.request
    fields = vars(request)
    headers = {key: fields[key] for key in _PROTOCOL_HEADERS if key in fields}
    headers.update({key: value for key, value in fields.items() if key.startswith("x-")})
    embed = {
        "callbacks": request.callbacks,
        "errbacks": request.errbacks,
        "chain": request.chain,
        "chord": request.chord,
    }
    body = json.dumps([list(args), kwargs, embed], separators=(",", ":")).encode()
    properties = dict(fields.get("properties") or {})
    properties.update(content_type="application/json", content_encoding="utf-8")
    delivery = request.delivery_info or {}
    source = spec_for(delivery.get("routing_key")) or spec_for(task.name) or WORKER_CRITICAL
    return DeadLetter(
        source=source,
        body=body,
        reason=reason,
        detail=detail,
        headers=headers,
        properties=properties,
    )
