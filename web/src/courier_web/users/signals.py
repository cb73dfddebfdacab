"""Receivers that keep user data whole; they hold no business logic.

Imported by ``UsersConfig.ready()``. The profile is created inside the saving
transaction, so a rollback takes it with the user (and with the outbox row of
``user.registered.v1``, declared in ``events.py``). Users written in bulk
(``evented_bulk_create``, which sends no ``post_save``) get theirs in bulk too,
with one INSERT, from ``post_bulk_create``.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from courier_web.outbox import evented_bulk_create, post_bulk_create
from courier_web.users.models import Profile, User


@receiver(post_save, sender=User, dispatch_uid="users.create_profile")
def create_profile(sender: type[User], **kwargs: Any) -> None:
    """post_save(User, created): every new user gets a profile."""
    if kwargs.get("created") and not kwargs.get("raw"):
        Profile.objects.create(user=kwargs["instance"])


@receiver(post_bulk_create, sender=User, dispatch_uid="users.create_profiles")
def create_profiles(sender: type[User], **kwargs: Any) -> None:
    """post_bulk_create(User): every user written in bulk gets a profile, in one INSERT."""
    profiles = [Profile(user=user) for user in kwargs["instances"]]
    evented_bulk_create(Profile, profiles, using=kwargs.get("using"))
