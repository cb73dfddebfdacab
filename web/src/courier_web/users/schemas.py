"""The users API's request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, ConfigDict, EmailStr, Field


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL (0x00): refused here as a 422, not a 500 from the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


#: A string that may be stored in or looked up against a PostgreSQL text column.
NoNul = AfterValidator(_no_nul)


class UserCreateIn(Schema):
    """Registration request; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[EmailStr, Field(max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    display_name: Annotated[str, Field(max_length=150), NoNul] = ""


class UserOut(Schema):
    """A user as the API shows it: never the password."""

    id: int
    email: str
    display_name: str
    date_joined: datetime


class UserUpdateIn(Schema):
    """What a user may change about themselves; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[str, Field(max_length=150), NoNul] | None = None


class TokenCreateIn(Schema):
    """Credentials exchanged for an API token."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=1, max_length=254), NoNul]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class TokenOut(Schema):
    """A new bearer token; it is shown only this once."""

    token: str
