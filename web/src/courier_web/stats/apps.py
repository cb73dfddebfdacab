from __future__ import annotations

from django.apps import AppConfig


class StatsConfig(AppConfig):
    """``GET /api/stats`` and the receivers that invalidate its cache when users come or go."""

    name = "courier_web.stats"
    label = "stats"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from courier_web.stats import signals  # noqa: F401  (connects the invalidating receivers)
