"""Celery tasks: thin adapters from a delivered message to a handler, one per event type.

One task is registered per declared handler (``handlers.registry``), under
its event type (the message's task name). It validates the envelope with
``shared_contracts`` and runs the declared handler through the idempotency
guard. A message that breaks the contracts is dead-lettered with its reason
and acknowledged: retrying cannot fix it.

A transient handler failure is retried through this worker's own delay
queues (``retry.py``, ``_on_handler_error``), a database that is away for as
long as it takes (never dead-lettered), never with Celery's
``self.retry()``: that re-publishes through the task's exchange, which for
these tasks is the topic exchange every consuming service is bound to, so
each retry would reach the other services too.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import structlog
from celery import Celery, Task
from shared_contracts import (
    PROTOCOL_HEADERS,
    ContractError,
    Envelope,
    SchemaViolation,
    UnknownEventType,
    parse_envelope,
    task_body,
)
from shared_contracts.codec import CONTENT_ENCODING, CONTENT_TYPE, check_headers
from shared_contracts.topology import CORRELATION_ID_HEADER

from courier_worker.bootstrap import Container, get_container
from courier_worker.deadletter import DeadLetter, classify
from courier_worker.handlers import HANDLERS, declaration_for, declarations
from courier_worker.idempotency import Outcome
from courier_worker.metrics import metrics
from courier_worker.queues import CRITICAL, QueueSpec
from courier_worker.retry import (
    BROKER_HEADERS,
    RETRIES_EXHAUSTED,
    RETRIES_HEADER,
    RetryMessage,
    is_database_unavailable,
    is_transient,
)
from courier_worker.topology import spec_for

log = structlog.get_logger(__name__)

#: ``courier_worker_dead_letters_total`` reason when a publish failed and the
#: message was rejected (the broker dead-letters it, reason in ``x-death``).
REJECTED = "rejected"


def register_tasks(app: Celery) -> None:
    """Register one task per declared handler, named after its event type.

    Idempotent: an event type that already has its task keeps it (Celery
    registers a name once), so this may run again after more declarations.
    """
    for declaration in declarations():
        app.task(
            name=declaration.event_type,
            bind=True,
            shared=False,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
            typing=False,  # the body is checked against the contracts instead
        )(consume_event)


def consume_event(task: Task[Any, Any], /, *args: Any, event: Any = None, **extra: Any) -> str:
    """Validate the delivered envelope and run its handler at most once.

    Returns the outcome (Celery then acknowledges the message). Raises only
    when a retry or dead letter could not be published: Celery then rejects
    the message without requeue and the broker dead-letters it.
    """
    request = task.request
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        event_id=request.id,
        event_type=task.name,
        correlation_id=vars(request).get(CORRELATION_ID_HEADER),
    )
    started = time.perf_counter()
    outcome = Outcome.DEAD_LETTERED  # unless we get further: rejected, so dead-lettered
    try:
        outcome = _consume(task, args, event, extra, started)
        return outcome.value
    except Exception:
        log.exception("event.rejected")
        metrics().dead_lettered(REJECTED)
        raise
    finally:
        metrics().outcome(task.name, outcome.value, time.perf_counter() - started)
        structlog.contextvars.clear_contextvars()


def _consume(
    task: Task[Any, Any], args: tuple[Any, ...], event: Any, extra: dict[str, Any], started: float
) -> Outcome:
    container = get_container(task.app)
    try:
        envelope = _validate(task, args, event, extra)
    except ContractError as exc:
        _dead_letter(task, container, exc, args, {"event": event, **extra})
        return Outcome.DEAD_LETTERED
    structlog.contextvars.bind_contextvars(correlation_id=envelope.correlation_id)
    handler = HANDLERS[envelope.event_type]
    try:
        outcome = container.guard.run(envelope, partial(handler, envelope, container.deps))
    except Exception as exc:
        return _on_handler_error(task, container, exc, args, {"event": event, **extra})
    if outcome is Outcome.HANDLED:
        # Once per handled event: the end-to-end suite counts these lines.
        log.info(
            "event.handled",
            retries=task.request.retries or 0,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
    return outcome


def _validate(
    task: Task[Any, Any], args: tuple[Any, ...], event: Any, extra: dict[str, Any]
) -> Envelope[Any]:
    if args or extra:
        raise SchemaViolation("task takes exactly one keyword argument, 'event'")
    if event is None:
        raise SchemaViolation("task kwargs carry no 'event'")
    envelope = parse_envelope(event)
    check_headers(envelope, {"task": task.name, "id": task.request.id})
    if envelope.event_type not in HANDLERS:
        # A task left registered after its declaration was withdrawn (tests).
        raise UnknownEventType(f"this worker has no handler for {envelope.event_type!r}")
    return envelope


def _on_handler_error(
    task: Task[Any, Any],
    container: Container,
    exc: Exception,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Outcome:
    """A handler failed (nothing was recorded): retry a transient failure, else dead-letter.

    A retry is a copy of the message published, with confirms, to a delay
    queue of the queue it came from (``retry.py``); the original is acked
    by Celery only when this returns. A permanent failure, or a transient
    one with no retry left, goes to the dead-letter queue.
    """
    retries = task.request.retries or 0
    policy = container.retry_policy
    declaration = declaration_for(task.name)
    if not is_transient(exc, declaration.transient if declaration else ()):
        log.error("event.failed", transient=False, retries=retries, exc_info=exc)
        _dead_letter(task, container, exc, args, kwargs)
        return Outcome.DEAD_LETTERED
    # A database that is away (the idempotency store's or a handler's) never
    # exhausts the retries: the event waits for it, however long it takes.
    database_away = is_database_unavailable(exc)
    if policy.exhausted(retries) and not database_away:
        log.error("event.failed", transient=True, retries=retries, exc_info=exc)
        detail = f"gave up after {retries} retries; last error: {type(exc).__name__}: {exc}"
        _dead_letter(task, container, exc, args, kwargs, reason=RETRIES_EXHAUSTED, detail=detail)
        return Outcome.DEAD_LETTERED
    if database_away:
        metrics().database_unavailable(task.name)
    delay = policy.backoff(retries, database_away=database_away)
    tier = policy.tier(delay)
    body, headers, properties, source = _message_from_request(task, args, kwargs)
    headers = {key: value for key, value in headers.items() if key not in BROKER_HEADERS}
    headers[RETRIES_HEADER] = retries + 1
    container.retries.publish(
        RetryMessage(
            source=source, delay_seconds=tier, body=body, headers=headers, properties=properties
        )
    )
    metrics().retried(task.name)
    log.warning(
        "event.retry_scheduled",
        retry=retries + 1,
        max_retries=policy.max_retries,
        delay_seconds=tier,
        backoff_seconds=round(delay, 3),
        delay_queue=source.delay_queue(tier),
        database_unavailable=database_away,
        error=f"{type(exc).__name__}: {exc}"[:500],
    )
    return Outcome.RETRIED


def _dead_letter(
    task: Task[Any, Any],
    container: Container,
    exc: BaseException,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    classified_reason, classified_detail = classify(exc)
    reason = reason or classified_reason
    detail = detail or classified_detail
    body, headers, properties, source = _message_from_request(task, args, kwargs)
    container.dead_letters.publish(
        DeadLetter(
            source=source,
            body=body,
            reason=reason,
            detail=detail,
            headers=headers,
            properties=properties,
        )
    )
    metrics().dead_lettered(reason)
    log.warning("event.dead_lettered", reason=reason, detail=detail)


def _message_from_request(
    task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bytes, dict[str, Any], dict[str, Any], QueueSpec]:
    """Rebuild the delivered message from the task's request (the pool sees no raw message).

    Returns its body, headers (Celery's and every ``x-`` header, the
    correlation header included), properties and the queue it came from.
    """
    request = task.request
    fields = vars(request)
    headers = {key: fields[key] for key in PROTOCOL_HEADERS if key in fields}
    headers.update({key: value for key, value in fields.items() if key.startswith("x-")})
    embed = {
        "callbacks": request.callbacks,
        "errbacks": request.errbacks,
        "chain": request.chain,
        "chord": request.chord,
    }
    body = task_body(args, kwargs, embed)
    properties = dict(fields.get("properties") or {})
    properties.update(content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING)
    delivery = request.delivery_info or {}
    source = spec_for(delivery.get("routing_key")) or spec_for(task.name) or CRITICAL
    return body, headers, properties, source
