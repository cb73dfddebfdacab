"""The answers every operation may give besides its own, written into the OpenAPI document.

The middleware and the API's error handlers answer some requests before (or
instead of) the operation, whatever its router declared; so that the document
tells the truth, each operation gets those that apply to it:

* ``400``: any request whose ``Content-Length`` is not a number; an
  operation with a body also for a body that is not JSON of the right shape;
* ``413``: any request with a body over ``HTTP_MAX_BODY_BYTES``;
* ``422``: an operation with parameters or a body, for values that fail validation;
* ``401``: an operation that needs credentials, without valid ones;
* ``403``: an operation that takes the session cookie, for a cookie sent
  without its CSRF token (and, on staff operations, for other accounts);
* ``429``: write methods, over the rate limit, with ``Retry-After``;

and every response carries ``X-Request-ID``. A router's own description of
a status is kept. The bearer scheme says where a token comes from.
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI

__all__ = ["add_common_responses", "document_common_responses"]

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
_WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

REQUEST_ID_HEADER = {
    "description": "The request's id: the caller's X-Request-ID if valid, else a new one.",
    "required": True,
    "schema": {"type": "string"},
}
_RATE_LIMIT_HEADERS = {
    "Retry-After": {
        "description": "Seconds until the client's bucket holds a token again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    **{
        f"RateLimit-{name}": {"description": text, "schema": {"type": "integer", "minimum": 0}}
        for name, text in (
            ("Limit", "Writes allowed per period."),
            ("Remaining", "Writes left in this period."),
            ("Reset", "Seconds until the bucket is full again."),
        )
    },
}
_BEARER_DESCRIPTION = (
    "`Authorization: Bearer <token>`, with a token from `POST /api/tokens` "
    "(shown once; stored only as a digest)."
)


def document_common_responses(api: NinjaAPI) -> None:
    """Make ``api``'s OpenAPI document list the answers the whole stack may give.

    Install it last, so that it sees the responses any other hook adds.
    """
    build_schema = api.get_openapi_schema

    def get_openapi_schema(**kwargs: Any) -> Any:
        return add_common_responses(build_schema(**kwargs))

    api.get_openapi_schema = get_openapi_schema  # type: ignore[method-assign]


def add_common_responses(document: Any) -> Any:
    """Add the statuses and headers the middleware and error handlers produce, in place."""
    schemes = document.get("components", {}).get("securitySchemes", {})
    for scheme in schemes.values():
        if scheme.get("type") == "http" and scheme.get("scheme") == "bearer":
            scheme.setdefault("description", _BEARER_DESCRIPTION)
    cookie_schemes = {name for name, scheme in schemes.items() if scheme.get("in") == "cookie"}
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            _document_operation(method, operation, cookie_schemes)
    return document


def _document_operation(method: str, operation: Any, cookie_schemes: set[str]) -> None:
    responses: dict[Any, Any] = operation.setdefault("responses", {})
    has_body = "requestBody" in operation
    security = [name for option in operation.get("security", ()) for name in option]
    _add(
        responses,
        400,
        "Bad request: a body that is not JSON, or not of the expected shape, or a "
        "Content-Length that is not a number"
        if has_body
        else "Bad request: a Content-Length that is not a number",
    )
    _add(responses, 413, "The request body is larger than the server accepts")
    if has_body or operation.get("parameters"):
        _add(responses, 422, "Invalid input; `error.fields` names each field and why")
    if security:
        _add(responses, 401, "Authentication required: no valid bearer token or session")
    if cookie_schemes.intersection(security):
        _add(
            responses,
            403,
            "Forbidden: a session cookie without its CSRF token, or an account that "
            "may not do this",
        )
    if method in _WRITE_METHODS:
        _add(responses, 429, "Too many writes from this client: retry after Retry-After seconds")
        limited = responses.get(429) or responses["429"]
        limited.setdefault("headers", {}).update(_RATE_LIMIT_HEADERS)
    for response in responses.values():
        response.setdefault("headers", {}).setdefault("X-Request-ID", REQUEST_ID_HEADER)


def _add(responses: dict[Any, Any], status: int, description: str) -> None:
    # ninja keys its responses by int, other hooks by str: the document would get both.
    if status not in responses and str(status) not in responses:
        responses[str(status)] = {"description": description, "content": _ERROR}
