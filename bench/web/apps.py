"""Benchmark-only Django apps: switch the registration event off, or make it naive.

Installed last by the settings modules next to this file, so their
``ready()`` runs after the outbox app has connected the emissions declared in
every ``events.py``; they undo the registration's through the outbox's public
``Emission.disconnect()``. Neither changes anything else: same views,
middleware and database.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db import transaction


def _disconnect_user_registered() -> None:
    """Undo the web's ``emits(UserRegistered, ...)`` declaration (``Emission.disconnect``)."""
    from courier_web.outbox import emissions
    from shared_contracts import UserRegistered

    declared = [emission for emission in emissions() if emission.event is UserRegistered]
    if not declared:
        raise RuntimeError("no emission of UserRegistered is declared: benchmark out of date")
    for emission in declared:
        emission.disconnect()


class EventsOffConfig(AppConfig):
    """``POST /api/users`` without its event: the ``http`` section's baseline."""

    name = "bench.web"
    label = "courier_bench_events_off"

    def ready(self) -> None:
        _disconnect_user_registered()


class NaiveDelayConfig(AppConfig):
    """The naive way: ``send_task`` right after commit, from the request, no outbox."""

    name = "bench.web"
    label = "courier_bench_naive_delay"

    def ready(self) -> None:
        from courier_web.users.models import User
        from django.db.models.signals import post_save

        _disconnect_user_registered()
        post_save.connect(naive_send_task, sender=User, dispatch_uid="bench.naive_send_task")


_app: Any = None


def _celery() -> Any:
    """One Celery producer app per process (created after gunicorn's fork)."""
    global _app
    if _app is None:
        from celery import Celery
        from courier_worker.queues import CRITICAL
        from courier_worker.topology import consuming_queues
        from django.conf import settings

        app = Celery("courier-bench-naive", set_as_current=False)
        app.conf.update(
            broker_url=settings.RABBITMQ_URL,
            task_serializer="json",
            accept_content=["json"],
            task_queues=list(consuming_queues()),
            task_default_queue=CRITICAL.name,
            task_create_missing_queues=False,
        )
        _app = app
    return _app


def naive_send_task(sender: Any, **kwargs: Any) -> None:
    """post_save(User, created): the same event, sent by Celery after commit, in the request."""
    if not kwargs.get("created") or kwargs.get("raw"):
        return
    from courier_web.correlation import correlation_id
    from shared_contracts import (
        CORRELATION_ID_HEADER,
        EVENTS_EXCHANGE,
        UserRegistered,
        new_envelope,
    )

    user = kwargs["instance"]
    envelope = new_envelope(
        UserRegistered(user_id=user.pk, email=user.email, display_name=user.display_name),
        producer="courier-bench-naive",
        correlation_id=correlation_id(),
    )
    event = envelope.model_dump(mode="json")

    def send() -> None:
        _celery().send_task(
            envelope.event_type,
            kwargs={"event": event},
            task_id=str(envelope.event_id),
            exchange=EVENTS_EXCHANGE,
            routing_key=envelope.event_type,
            headers={CORRELATION_ID_HEADER: envelope.correlation_id},
        )

    transaction.on_commit(send)
