"""X-Request-ID: accept the caller's when well-formed, else mint one; echo it always."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from shared_contracts import is_valid_correlation_id

from courier_web.correlation import new_request_id, reset_request_id, set_request_id

HEADER = "X-Request-ID"
#: The header as WSGI passes it: ``request.headers`` would build a mapping of
#: every header of the request for this one value.
_META_KEY = "HTTP_X_REQUEST_ID"


class RequestIdMiddleware:
    """Makes the request id current for the request's duration and sets it on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.META.get(_META_KEY)
        if incoming and is_valid_correlation_id(incoming):
            request_id = incoming
        else:
            request_id = new_request_id()
        # By hand, not with bound_request_id(): a generator-based context manager
        # per request would cost more than the rest of this layer.
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response[HEADER] = request_id
        return response
