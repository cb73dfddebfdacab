from __future__ import annotations

from django.apps import AppConfig


class UsersConfig(AppConfig):
    """User accounts; connects the receivers that turn changes into events."""

    name = "courier_web.users"
    label = "users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from courier_web.users import signals
        from courier_web.users.models import User

        post_save.connect(signals.create_profile, sender=User, dispatch_uid="users.create_profile")
        post_save.connect(
            signals.emit_user_registered, sender=User, dispatch_uid="users.emit_user_registered"
        )
