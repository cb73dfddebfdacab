from __future__ import annotations

from django.apps import AppConfig


class NewslettersConfig(AppConfig):
    name = "courier_web.newsletters"
    label = "newsletters"
    default_auto_field = "django.db.models.BigAutoField"
