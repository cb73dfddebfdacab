"""X-Request-ID: accept the caller's when well-formed, else mint one; echo it always."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from shared_contracts import is_valid_correlation_id

from courier_web.correlation import bound_request_id, new_request_id

HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Binds the request id for the request's duration and sets it on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get(HEADER, "")
        request_id = incoming if is_valid_correlation_id(incoming) else new_request_id()
        with bound_request_id(request_id):
            response = self.get_response(request)
        response[HEADER] = request_id
        return response
