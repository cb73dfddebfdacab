"""Importing many accounts at once: one transaction, a constant number of queries.

Each imported user gets an unusable password (they set one later), a profile
and exactly one ``user.registered.v1``, as a registration does; the rows, the
profiles and every event are written with one INSERT each
(``courier_web.outbox.evented_bulk_create``; the profiles follow through
``post_bulk_create``, see ``users/signals.py``). A row with a bad email, or
an email already registered (in any letter case, or earlier in the same
import), is refused and reported by its index; the others are imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from courier_web.outbox import evented_bulk_create
from courier_web.users.models import User
from courier_web.users.selectors import user_emails_registered

__all__ = ["MAX_IMPORT_ROWS", "ImportResult", "ImportRow", "RowRefused", "user_import"]

log = structlog.get_logger(__name__)

#: The most rows one import takes (one request, one transaction).
MAX_IMPORT_ROWS = 1000
#: Imports lost to a registration that took one of their emails meanwhile are retried this often.
_ATTEMPTS = 3


@dataclass(frozen=True)
class ImportRow:
    """One account to import."""

    email: str
    display_name: str = ""


@dataclass(frozen=True)
class RowRefused:
    """Why the row at ``row`` (its index in the import) was not imported."""

    row: int
    code: str
    fields: dict[str, list[str]]


@dataclass
class ImportResult:
    """The users created, each with the index of its row, and the rows refused."""

    created: list[tuple[int, User]] = field(default_factory=list)
    refused: list[RowRefused] = field(default_factory=list)


@transaction.atomic
def user_import(*, rows: Sequence[ImportRow]) -> ImportResult:
    """Create an account per valid, new row and report the others, by index.

    Raises ``ValidationError`` for more than ``MAX_IMPORT_ROWS`` rows.
    """
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationError({"body": [f"at most {MAX_IMPORT_ROWS} rows per import"]})
    candidates, refused = _valid_users(rows)
    for attempt in range(1, _ATTEMPTS + 1):
        registered = user_emails_registered(emails=(user.email for _, user in candidates))
        taken = [(i, user) for i, user in candidates if user.email.lower() in registered]
        fresh = [(i, user) for i, user in candidates if user.email.lower() not in registered]
        try:
            evented_bulk_create(User, [user for _, user in fresh])
        except IntegrityError:
            # A registration committed one of these emails after our look: look again.
            if attempt == _ATTEMPTS:
                raise
            candidates = [(i, _copy(user)) for i, user in candidates]
            continue
        refused += [_duplicate(i) for i, _ in taken]
        break
    refused.sort(key=lambda refusal: refusal.row)
    log.info("users.imported", created=len(fresh), refused=len(refused), rows=len(rows))
    return ImportResult(created=fresh, refused=refused)


def _valid_users(rows: Sequence[ImportRow]) -> tuple[list[tuple[int, User]], list[RowRefused]]:
    """Unsaved users for the rows that pass the model's field validation (no query)."""
    candidates: list[tuple[int, User]] = []
    refused: list[RowRefused] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        email = User.objects.normalize_email(row.email.strip())
        user = User(email=email, display_name=row.display_name.strip())
        user.set_unusable_password()
        try:
            user.clean_fields(exclude=["password"])
            _storable(user, "display_name")
        except ValidationError as exc:
            refused.append(RowRefused(row=index, code="invalid", fields=exc.message_dict))
            continue
        if email.lower() in seen:
            refused.append(_duplicate(index))
            continue
        seen.add(email.lower())
        candidates.append((index, user))
    return candidates, refused


def _storable(user: User, field: str) -> None:
    """PostgreSQL text holds neither NUL nor unpaired surrogates (which JSON may carry)."""
    value = getattr(user, field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError({field: ["must be valid Unicode text"]}) from None
    if "\x00" in value:
        raise ValidationError({field: ["must not contain NUL characters"]})


def _duplicate(index: int) -> RowRefused:
    return RowRefused(
        row=index, code="duplicate", fields={"email": ["an account with this email already exists"]}
    )


def _copy(user: User) -> User:
    """A fresh unsaved copy: a failed bulk insert may leave its instances half-marked as saved."""
    copy = User(email=user.email, display_name=user.display_name, date_joined=user.date_joined)
    copy.password = user.password
    return copy
