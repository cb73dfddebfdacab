"""Receivers that translate user changes; they hold no business logic.

Connected in ``UsersConfig.ready()``. Both run inside the saving transaction,
so a rollback takes the profile and the outbox row with it.
"""

from __future__ import annotations

from typing import Any

from shared_contracts import UserRegistered

from courier_web.correlation import correlation_id
from courier_web.outbox.services import outbox_enqueue
from courier_web.users.models import Profile, User


def create_profile(sender: type[User], **kwargs: Any) -> None:
    """post_save(User, created): every new user gets a profile."""
    if kwargs.get("created") and not kwargs.get("raw"):
        Profile.objects.create(user=kwargs["instance"])


def emit_user_registered(sender: type[User], **kwargs: Any) -> None:
    """post_save(User, created): record ``user.registered.v1`` in the outbox."""
    if not kwargs.get("created") or kwargs.get("raw"):
        return
    user: User = kwargs["instance"]
    event = UserRegistered(user_id=user.pk, email=user.email, display_name=user.display_name)
    outbox_enqueue(event, correlation_id=correlation_id())
