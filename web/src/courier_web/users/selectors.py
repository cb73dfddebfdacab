"""Reads of user accounts."""

from __future__ import annotations

from courier_web.users.models import ApiToken, User
from courier_web.users.tokens import token_hash, token_matches


def user_get(*, user_id: int) -> User | None:
    """The user with ``user_id``, or None."""
    return User.objects.filter(pk=user_id).first()


def user_get_by_email(*, email: str) -> User | None:
    """The user whose email matches ``email`` in any letter case, or None."""
    return User.objects.filter(email__iexact=email.strip()).first()


def user_for_token(*, token: str) -> User | None:
    """The active user owning ``token``, or None. Looks up the hash, never the token."""
    row = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(token), user__is_active=True)
        .first()
    )
    if row is None or not token_matches(token, row.key_hash):
        return None
    return row.user
