"""Events an operator replays so that consumers can rebuild their copies from scratch."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AwareDatetime, EmailStr, Field
from shared_contracts.events.base import Event


class UserRegistrationReplayed(Event):
    """An operator replayed an existing account's registration, for consumers' read models.

    Emitted: once per live account when ``courier-web replay_registrations``
    runs (to rebuild a consumer's read model). Not a new registration: no
    welcome email, no side effect; a consumer that already has the account
    keeps what it has. Key field: ``user_id``.
    """

    event_type: ClassVar[str] = "user.registration_replayed.v1"
    schema_version: ClassVar[int] = 1

    user_id: Annotated[int, Field(ge=1)]
    email: EmailStr
    display_name: Annotated[str, Field(max_length=150)] = ""
    #: When the account was created (the original registration's time).
    registered_at: AwareDatetime
