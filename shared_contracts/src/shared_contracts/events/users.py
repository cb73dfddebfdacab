"""Events about user accounts."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import EmailStr, Field
from shared_contracts.events.base import Event


class UserRegistered(Event):
    """A new user account was created.

    Emitted: once per account, when the transaction that created it commits.
    Key field: ``user_id`` (the web service's id for the account).
    Carries no password, hash or token, ever.
    """

    event_type: ClassVar[str] = "user.registered.v1"
    schema_version: ClassVar[int] = 1

    user_id: Annotated[int, Field(ge=1)]
    email: EmailStr
    display_name: Annotated[str, Field(max_length=150)] = ""
