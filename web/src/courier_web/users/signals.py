"""Receivers that keep user data whole; they hold no business logic.

Imported by ``UsersConfig.ready()``. The profile is created inside the saving
transaction, so a rollback takes it with the user (and with the outbox row of
``user.registered.v1``, declared in ``events.py``).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from courier_web.users.models import Profile, User


@receiver(post_save, sender=User, dispatch_uid="users.create_profile")
def create_profile(sender: type[User], **kwargs: Any) -> None:
    """post_save(User, created): every new user gets a profile."""
    if kwargs.get("created") and not kwargs.get("raw"):
        Profile.objects.create(user=kwargs["instance"])
