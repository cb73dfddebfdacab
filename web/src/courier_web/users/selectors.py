"""Reads of user accounts."""

from __future__ import annotations

from courier_web.users.models import User


def user_get(*, user_id: int) -> User | None:
    """The user with ``user_id``, or None."""
    return User.objects.filter(pk=user_id).first()


def user_get_by_email(*, email: str) -> User | None:
    """The user whose email matches ``email`` in any letter case, or None."""
    return User.objects.filter(email__iexact=email.strip()).first()
