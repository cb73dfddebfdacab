"""The newsletters HTTP interface: staff send one and follow it; anyone with a link opts out.

Sending and reading are for staff (401 without a token, 403 with a
non-staff one). The unsubscribe link in every newsletter works without
logging in: its signed token says who to opt out (``unsubscribe.py``); a
mail client's one-click unsubscribe (RFC 8058) POSTs to the same URL.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from courier_web.api.errors import ApiError, ErrorOut
from courier_web.newsletters.models import Newsletter
from courier_web.newsletters.schemas import (
    NewsletterAcceptedOut,
    NewsletterCreateIn,
    NewsletterOut,
    UnsubscribedOut,
)
from courier_web.newsletters.services import newsletter_opt_out, newsletter_send
from courier_web.newsletters.unsubscribe import BadUnsubscribeToken, user_id_from_token
from courier_web.users.auth import staff_auth

router = Router(tags=["newsletters"])


class UnsubscribeQuery(Schema):
    # Django's signed values are URL-safe base64 and ``:``; bounded well inside the
    # server's request-line limit, so that any token the schema allows gets a JSON answer.
    token: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_.:-]+$")


@router.post(
    "",
    auth=staff_auth,
    response={
        202: NewsletterAcceptedOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ErrorOut,
    },
    summary="Send a newsletter (staff)",
    description=(
        'Body `{"subject", "body"}` (plain text). It goes to every active user who has not '
        "opted out, as of now; the worker sends it in the background at the deployment's "
        "`NEWSLETTER_RATE_LIMIT`. Follow it with `GET /api/newsletters/{id}`."
    ),
)
def create_newsletter(
    request: HttpRequest, payload: NewsletterCreateIn
) -> Status[NewsletterAcceptedOut]:
    newsletter = newsletter_send(
        author=request.auth,  # type: ignore[attr-defined]
        subject=payload.subject,
        body=payload.body,
    )
    return Status(
        202,
        NewsletterAcceptedOut(
            id=newsletter.pk,
            status=newsletter.status,  # type: ignore[arg-type]
            total=newsletter.total,
        ),
    )


def _unsubscribe(token: str) -> UnsubscribedOut:
    try:
        user_id = user_id_from_token(token)
    except BadUnsubscribeToken as exc:
        raise ApiError(400, "invalid_token", str(exc)) from None
    # A user deleted since has nothing left to opt out of: the same answer.
    newsletter_opt_out(user_id=user_id)
    return UnsubscribedOut(unsubscribed=True)


_UNSUBSCRIBE_RESPONSES = {200: UnsubscribedOut, 400: ErrorOut, 422: ErrorOut}


@router.get(
    "/unsubscribe",
    response=_UNSUBSCRIBE_RESPONSES,
    summary="Opt out of newsletters with the signed link of an email (no login)",
    description="400 when the token is not valid or has expired.",
)
def unsubscribe(request: HttpRequest, query: Query[UnsubscribeQuery]) -> UnsubscribedOut:
    return _unsubscribe(query.token)


@router.post(
    "/unsubscribe",
    response=_UNSUBSCRIBE_RESPONSES,
    summary="One-click opt-out (RFC 8058) with the signed link of an email (no login)",
    description="Any body is ignored. 400 when the token is not valid or has expired.",
)
def unsubscribe_one_click(request: HttpRequest, query: Query[UnsubscribeQuery]) -> UnsubscribedOut:
    return _unsubscribe(query.token)


@router.get(
    "/{newsletter_id}",
    auth=staff_auth,
    response={200: NewsletterOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="A newsletter's progress (staff): sent, failed, total and status",
)
def get_newsletter(request: HttpRequest, newsletter_id: uuid.UUID) -> NewsletterOut:
    newsletter = Newsletter.objects.filter(pk=newsletter_id).first()
    if newsletter is None:
        raise ApiError(404, "not_found", f"no newsletter with id {newsletter_id}")
    return NewsletterOut(
        id=newsletter.pk,
        subject=newsletter.subject,
        status=newsletter.status,  # type: ignore[arg-type]
        total=newsletter.total,
        sent=newsletter.sent,
        failed=newsletter.failed,
        created_at=newsletter.created_at,
        finished_at=newsletter.finished_at,
    )
