from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit trail's declarations and its per-entity version counters."""

    name = "courier_web.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"
