"""Reads of user accounts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.functions import Lower

from courier_web.users.models import ApiToken, User
from courier_web.users.tokens import token_hash, token_matches


def user_get(*, user_id: int) -> User | None:
    """The user with ``user_id``, or None."""
    return User.objects.filter(pk=user_id).first()


def user_get_for(*, actor: User, user_id: int) -> User | None:
    """The user ``user_id`` if ``actor`` may see it (that user, or staff), else None.

    None alike for a missing id and for someone else's account, so that the
    answer never tells whether an id exists. The actor reading themselves
    costs no query: it is the user their credentials already loaded.
    """
    if actor.pk == user_id:
        return actor
    if not actor.is_staff:
        return None
    return user_get(user_id=user_id)


def user_get_by_email(*, email: str) -> User | None:
    """The user whose email matches ``email`` in any letter case, or None."""
    return User.objects.filter(email__iexact=email.strip()).first()


def user_emails_registered(*, emails: Iterable[str]) -> set[str]:
    """Which of ``emails`` (lower-cased) already have an account, in one query."""
    lowered = {email.lower() for email in emails}
    if not lowered:
        return set()
    return set(
        User.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=lowered)
        .values_list("email_lower", flat=True)
    )


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
