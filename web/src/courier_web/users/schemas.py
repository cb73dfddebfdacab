"""The users API's request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool

from courier_web.api.emails import Email
from courier_web.api.passwords import Password
from courier_web.api.text import NoNul


class UserCreateIn(Schema):
    """Registration request; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    display_name: Annotated[str, Field(max_length=150), NoNul] = ""


class UserOut(Schema):
    """A user as the API shows it: never the password."""

    id: int
    email: str
    display_name: str
    date_joined: datetime
    newsletter_opt_in: bool


class UserUpdateIn(Schema):
    """What a user may change about themselves; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[str, Field(max_length=150), NoNul] | None = None
    #: False opts out of newsletters (true opts back in).
    newsletter_opt_in: StrictBool | None = None


class TokenCreateIn(Schema):
    """Credentials exchanged for an API token."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=1, max_length=254), NoNul]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class TokenOut(Schema):
    """A new bearer token; it is shown only this once."""

    token: str


class UserImportRowIn(Schema):
    """One account to import; its email is checked row by row (a bad one refuses its row only)."""

    model_config = ConfigDict(extra="forbid")

    #: Bounded here for the request's size only: the rules of an email (and of
    #: storable text) are checked per row, refusing that row only.
    email: Annotated[str, Field(max_length=320)]
    display_name: Annotated[str, Field(max_length=150)] = ""


class ImportedUserOut(Schema):
    """A user the import created, with the index of its row."""

    row: int
    id: int
    email: str


class RowErrorOut(Schema):
    """Why the row at ``row`` was refused: ``invalid`` or ``duplicate``, by field."""

    row: int
    code: str
    fields: dict[str, list[str]]


class UserImportOut(Schema):
    """What an import did: the users it created and the rows it refused."""

    created: list[ImportedUserOut]
    errors: list[RowErrorOut]
