"""Writes to user accounts. Events follow from the model changes (see events.py)."""

from __future__ import annotations

import structlog
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from courier_web.users.errors import EmailAlreadyRegistered, InvalidCredentials
from courier_web.users.models import ApiToken, User
from courier_web.users.tokens import token_hash, token_new

log = structlog.get_logger(__name__)


@transaction.atomic
def user_create(*, email: str, password: str, display_name: str = "") -> User:
    """Register an account; its profile and ``user.registered.v1`` event follow in-transaction.

    Raises ``ValidationError`` (keyed by field) for a bad email or weak password,
    and ``EmailAlreadyRegistered`` for a duplicate email in any letter case.
    """
    email = User.objects.normalize_email(email.strip())
    user = User(email=email, display_name=display_name.strip())
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError as exc:
        errors["email"] = list(exc.messages)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    if User.objects.filter(email__iexact=email).exists():
        raise EmailAlreadyRegistered(email)

    user.set_password(password)
    try:
        # A savepoint, so that losing a race on the unique constraint leaves
        # the caller's transaction usable.
        with transaction.atomic():
            user.full_clean(exclude=["password", "email"])
            user.save()
    except IntegrityError:
        if User.objects.filter(email__iexact=email).exists():
            raise EmailAlreadyRegistered(email) from None
        raise
    return user


@transaction.atomic
def user_update(
    *, user: User, display_name: str | None = None, newsletter_opt_in: bool | None = None
) -> User:
    """Change what a user may change about themselves (display name, newsletter opt-in)."""
    changed = []
    if display_name is not None:
        user.display_name = display_name.strip()
        user.full_clean(exclude=["password", "email"])
        changed.append("display_name")
    if newsletter_opt_in is not None and newsletter_opt_in != user.newsletter_opt_in:
        user.newsletter_opt_in = newsletter_opt_in
        changed.append("newsletter_opt_in")
    if changed:
        user.save(update_fields=changed)
    return user


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Delete an account with its profile and tokens; their deletion events follow."""
    user_id = user.pk
    user.delete()
    log.info("users.deleted", user_id=user_id)


@transaction.atomic
def token_issue(*, email: str, password: str, request: HttpRequest | None = None) -> str:
    """A new API token for the account, returned once (only its hash is stored).

    Raises ``InvalidCredentials`` for an unknown email, a wrong password or an
    inactive account alike, in about the same time (Django's ModelBackend
    hashes the password even for an unknown email).
    """
    user = authenticate(request, username=email.strip(), password=password)
    if not isinstance(user, User):
        raise InvalidCredentials()
    token = token_new()
    ApiToken.objects.create(user=user, key_hash=token_hash(token))
    return token
