"""One JSON error shape for every API failure, and the handlers that produce it.

``{"error": {"code": ..., "message": ..., "fields": {"email": ["..."]}}}``

A database that is away (a restart, a failover, a pause) is a ``503`` with
``Retry-After``, never a ``500`` (``unavailable.py``): from an API view (the
ninja handler below) and from anywhere else in the stack (a middleware, a
plain Django view: the ``handler500`` view looks at the exception being handled).
"""

from __future__ import annotations

import sys
from typing import Any

import structlog
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from courier_web.api.parser import BadRequestBody
from courier_web.api.unavailable import database_unavailable_response, document_database_unavailable
from courier_web.health.database import DATABASE_ERRORS
from courier_web.users.errors import EmailAlreadyRegistered, InvalidCredentials, NotAllowed

log = structlog.get_logger(__name__)

# Where ninja puts a parameter before the field's own name: ("body", "payload", ...).
_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file"}


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] | None = None


class ErrorOut(Schema):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(Exception):
    """An error an API function raises to answer with ``status`` and this code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> Any:
    detail: dict[str, Any] = {"code": code, "message": message}
    if fields:
        detail["fields"] = fields
    return {"error": detail}


def _field_name(loc: list[Any] | tuple[Any, ...], param_names: set[str]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
        if parts and parts[0] in param_names:
            parts = parts[1:]
    return ".".join(parts) or "body"


def install_error_handlers(api: NinjaAPI) -> None:
    """Replace ninja's default error bodies with ours; a client mistake is never a 500."""

    def respond(request: HttpRequest, status: int, body: Any) -> HttpResponse:
        return api.create_response(request, body, status=status)

    def on_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields: dict[str, list[str]] = {}
        for err in exc.errors:
            name = _field_name(err.get("loc", ()), {"payload"})
            # Never echo input back: it may be a password.
            fields.setdefault(name, []).append(str(err.get("msg", "invalid")))
        return respond(
            request, 422, error_body("validation_error", "the request is not valid", fields)
        )

    def on_django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        if hasattr(exc, "error_dict"):
            fields = {name: list(msgs) for name, msgs in exc.message_dict.items()}
        else:
            fields = {"body": list(exc.messages)}
        return respond(
            request, 422, error_body("validation_error", "the request is not valid", fields)
        )

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        cause = exc.__cause__
        if isinstance(cause, RequestDataTooBig):
            return respond(request, 413, error_body("too_large", "the request body is too large"))
        if isinstance(cause, MultiPartParserError):
            return on_bad_multipart(request, cause)
        if isinstance(cause, BadRequestBody):
            return respond(request, 400, error_body("bad_request", str(cause)))
        return respond(request, exc.status_code, error_body("http_error", str(exc)))

    def on_bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
        # A client's framing mistake (no boundary, a truncated part), never a 500.
        return respond(
            request, 400, error_body("bad_request", f"the multipart body is malformed: {exc}")
        )

    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc.status, error_body(exc.code, exc.message))

    def on_conflict(request: HttpRequest, exc: EmailAlreadyRegistered) -> HttpResponse:
        return respond(
            request,
            409,
            error_body("conflict", str(exc), {"email": ["an account with this email exists"]}),
        )

    def on_unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Same answer for "no credentials" and "wrong credentials": nothing to probe.
        message = (
            str(exc)
            if isinstance(exc, InvalidCredentials)
            else "authentication required: send a bearer token or a session cookie"
        )
        response = respond(request, 401, error_body("unauthenticated", message))
        response["WWW-Authenticate"] = 'Bearer realm="courier"'
        return response

    def on_not_allowed(request: HttpRequest, exc: NotAllowed) -> HttpResponse:
        return respond(request, 403, error_body("forbidden", str(exc)))

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, error_body("not_found", "not found"))

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        if isinstance(exc, DATABASE_ERRORS) and (
            unavailable := database_unavailable_response(request, exc)
        ):
            return unavailable
        log.exception("api.unhandled_error", path=request.path)
        return respond(request, 500, error_body("internal_error", "internal server error"))

    handlers: list[tuple[type[Exception], Any]] = [
        (Exception, on_unexpected),
        (NinjaValidationError, on_validation),
        (DjangoValidationError, on_django_validation),
        (HttpError, on_http_error),
        (MultiPartParserError, on_bad_multipart),
        (ApiError, on_api_error),
        (EmailAlreadyRegistered, on_conflict),
        (Http404, on_not_found),
        (AuthenticationError, on_unauthenticated),
        (InvalidCredentials, on_unauthenticated),
        (NotAllowed, on_not_allowed),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
    document_database_unavailable(api)


# Django's handler400/403/404/500 (config/urls.py): errors outside the API,
# e.g. an unknown URL, a 500 in a plain Django view, a failed CSRF check.
def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "bad request"), status=400)


def forbidden_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("forbidden", "forbidden"), status=403)


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "not found"), status=404)


def server_error_view(request: HttpRequest) -> JsonResponse:
    # Django calls this while handling the exception: a database that is away
    # (in a middleware's session or token lookup, say) is a 503 here too.
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS) and (
        unavailable := database_unavailable_response(request, exc)
    ):
        return unavailable
    return JsonResponse(error_body("internal_error", "internal server error"), status=500)
