from __future__ import annotations

from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """Outbox rows, the in-process publisher and the ``relay_outbox`` command."""

    name = "courier_web.outbox"
    label = "outbox"
    default_auto_field = "django.db.models.BigAutoField"
