"""Writes to user accounts. Events follow from the model changes (see signals.py)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from courier_web.users.errors import EmailAlreadyRegistered
from courier_web.users.models import User


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
