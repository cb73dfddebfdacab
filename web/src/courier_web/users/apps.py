from __future__ import annotations

from django.apps import AppConfig


class UsersConfig(AppConfig):
    """User accounts. Their events are declared in ``events.py`` (found by the outbox app)."""

    name = "courier_web.users"
    label = "users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from courier_web.users import signals  # noqa: F401  (connects the profile receiver)
