"""The users HTTP interface: validate input, call a service or selector, render."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from courier_web.api.errors import ApiError, ErrorOut
from courier_web.users.models import User
from courier_web.users.schemas import UserCreateIn, UserOut
from courier_web.users.selectors import user_get
from courier_web.users.services import user_create

router = Router(tags=["users"])


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


@router.get("/{user_id}", response={200: UserOut, 404: ErrorOut}, summary="Get a user")
def get_user(request: HttpRequest, user_id: int) -> User:
    user = user_get(user_id=user_id)
    if user is None:
        raise ApiError(404, "not_found", f"no user with id {user_id}")
    return user
