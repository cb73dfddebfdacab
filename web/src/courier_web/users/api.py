"""The users HTTP interface: validate input, call a service or selector, render."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from courier_web.api.errors import ApiError, ErrorOut
from courier_web.users.auth import user_auth
from courier_web.users.errors import NotAllowed
from courier_web.users.models import User
from courier_web.users.schemas import TokenCreateIn, TokenOut, UserCreateIn, UserOut, UserUpdateIn
from courier_web.users.selectors import user_get
from courier_web.users.services import token_issue, user_create, user_may_change, user_update

router = Router(tags=["users"])
tokens_router = Router(tags=["tokens"])


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


@router.patch(
    "/{user_id}",
    auth=user_auth,
    response={
        200: UserOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ErrorOut,
    },
    summary="Change a user (that user, or staff)",
)
def update_user(request: HttpRequest, user_id: int, payload: UserUpdateIn) -> User:
    actor = request.auth  # type: ignore[attr-defined]
    if not user_may_change(actor=actor, target_id=user_id):
        raise NotAllowed()
    user = user_get(user_id=user_id)
    if user is None:
        raise ApiError(404, "not_found", f"no user with id {user_id}")
    return user_update(user=user, display_name=payload.display_name)


@tokens_router.post(
    "",
    response={201: TokenOut, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut},
    summary="Exchange email and password for a bearer token",
)
def create_token(request: HttpRequest, payload: TokenCreateIn) -> Status[TokenOut]:
    token = token_issue(email=payload.email, password=payload.password, request=request)
    return Status(201, TokenOut(token=token))
