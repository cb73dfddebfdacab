"""Signed unsubscribe links: who to opt out, in a token only this web service can make.

The token is Django's ``signing.dumps`` of the user id with a salt of its own
(a token signed for another purpose is refused) and a timestamp, so that a
link stops working after ``NEWSLETTER_UNSUBSCRIBE_MAX_AGE_DAYS``. It is
built here, never by the worker, so no secret leaves the web.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing

SALT = "courier.newsletters.unsubscribe"
PATH = "/api/newsletters/unsubscribe"


class BadUnsubscribeToken(ValueError):
    """The token was not signed by this service for unsubscribing, or it has expired."""


def unsubscribe_token(user_id: int) -> str:
    return signing.dumps({"u": user_id}, salt=SALT, compress=False)


def unsubscribe_url(user_id: int) -> str:
    """The absolute link that opts ``user_id`` out of newsletters, without logging in."""
    base = str(settings.PUBLIC_BASE_URL).rstrip("/")
    return f"{base}{PATH}?{urlencode({'token': unsubscribe_token(user_id)})}"


def user_id_from_token(token: str) -> int:
    """The user the token names; ``BadUnsubscribeToken`` when forged, altered or expired."""
    max_age = timedelta(days=settings.NEWSLETTER_UNSUBSCRIBE_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise BadUnsubscribeToken("this unsubscribe link has expired") from None
    except signing.BadSignature:
        raise BadUnsubscribeToken("this unsubscribe link is not valid") from None
    user_id = data.get("u") if isinstance(data, dict) else None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 1:
        raise BadUnsubscribeToken("this unsubscribe link is not valid")
    return user_id
