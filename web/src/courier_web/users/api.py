"""The users HTTP interface: validate input, call a service or selector, render.

Reading, changing and deleting a user is for that user or staff; anyone else
gets the same 404 as for a missing id, so ids cannot be probed for accounts.
"""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from ninja import Body, Router, Status
from ninja.decorators import decorate_view
from pydantic import Field

from courier_web.api.errors import ApiError, ErrorOut
from courier_web.api.parser import json_array_body
from courier_web.users.auth import staff_auth, user_auth
from courier_web.users.importing import MAX_IMPORT_ROWS, ImportRow, user_import
from courier_web.users.models import User
from courier_web.users.schemas import (
    ImportedUserOut,
    RowErrorOut,
    TokenCreateIn,
    TokenOut,
    UserCreateIn,
    UserImportOut,
    UserImportRowIn,
    UserOut,
    UserUpdateIn,
)
from courier_web.users.selectors import user_get_for
from courier_web.users.services import token_issue, user_create, user_delete, user_update

router = Router(tags=["users"])
tokens_router = Router(tags=["tokens"])

ImportRows = Annotated[list[UserImportRowIn], Field(min_length=1, max_length=MAX_IMPORT_ROWS)]


@router.post(
    "",
    response={201: UserOut, 400: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Register a user",
)
def create_user(request: HttpRequest, payload: UserCreateIn) -> Status[User]:
    user = user_create(
        email=payload.email, password=payload.password, display_name=payload.display_name
    )
    return Status(201, user)


@router.post(
    "/import",
    auth=staff_auth,
    response={201: UserImportOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary=f"Import up to {MAX_IMPORT_ROWS} users (staff)",
    description=(
        "A JSON array of `{email, display_name?}`. Each new, valid email becomes a user "
        "with an unusable password (they set one later), a profile and one "
        "user.registered.v1 event; rows with a bad or already registered email are "
        "reported in `errors` by their index, and the others are imported."
    ),
)
@decorate_view(json_array_body)
def import_users(
    request: HttpRequest, payload: Annotated[ImportRows, Body()]
) -> Status[UserImportOut]:
    result = user_import(
        rows=[ImportRow(email=row.email, display_name=row.display_name) for row in payload]
    )
    return Status(
        201,
        UserImportOut(
            created=[
                ImportedUserOut(row=row, id=user.pk, email=user.email)
                for row, user in result.created
            ],
            errors=[
                RowErrorOut(row=refused.row, code=refused.code, fields=refused.fields)
                for refused in result.refused
            ],
        ),
    )


@router.get(
    "/{user_id}",
    auth=user_auth,
    response={200: UserOut, 401: ErrorOut, 404: ErrorOut},
    summary="Get a user (that user, or staff)",
)
def get_user(request: HttpRequest, user_id: int) -> User:
    return _visible_user(request, user_id)


@router.patch(
    "/{user_id}",
    auth=user_auth,
    response={200: UserOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Change a user (that user, or staff)",
)
def update_user(request: HttpRequest, user_id: int, payload: UserUpdateIn) -> User:
    user = _visible_user(request, user_id)
    return user_update(
        user=user,
        display_name=payload.display_name,
        newsletter_opt_in=payload.newsletter_opt_in,
    )


@router.delete(
    "/{user_id}",
    auth=user_auth,
    response={204: None, 401: ErrorOut, 404: ErrorOut},
    summary="Delete a user and their profile (that user, or staff)",
)
def delete_user(request: HttpRequest, user_id: int) -> Status[None]:
    user_delete(user=_visible_user(request, user_id))
    return Status(204, None)


@tokens_router.post(
    "",
    response={201: TokenOut, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut},
    summary="Exchange email and password for a bearer token",
)
def create_token(request: HttpRequest, payload: TokenCreateIn) -> Status[TokenOut]:
    token = token_issue(email=payload.email, password=payload.password, request=request)
    return Status(201, TokenOut(token=token))


def _visible_user(request: HttpRequest, user_id: int) -> User:
    """The user, if the caller may see it; else the 404 of a missing id, word for word."""
    user = user_get_for(actor=request.auth, user_id=user_id)  # type: ignore[attr-defined]
    if user is None:
        raise ApiError(404, "not_found", f"no user with id {user_id}")
    return user
