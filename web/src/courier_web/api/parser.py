"""Request body parsing that tells a wrong content type from malformed JSON.

Bodies are JSON objects, except for the operations decorated with
``@decorate_view(json_array_body)``, whose body is a JSON array (an import).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from ninja.parser import Parser

__all__ = ["BadRequestBody", "StrictJsonParser", "json_array_body"]

_ARRAY_BODY_ATTR = "_courier_json_array_body"


class BadRequestBody(ValueError):
    """The body cannot be read as the JSON the operation takes; the message says why."""


def json_array_body(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For ``ninja.decorators.decorate_view``: this operation's body is a JSON array."""

    @functools.wraps(run)
    def operation(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        setattr(request, _ARRAY_BODY_ATTR, True)
        return run(request, *args, **kwargs)

    return operation


class StrictJsonParser(Parser):
    """JSON bodies only, sent as ``application/json`` (or ``+json``)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        content_type = (request.content_type or "").lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise BadRequestBody(
                f"unsupported content type {content_type or '(none)'!r}: send application/json"
            )
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequestBody(f"malformed JSON: {exc}") from None
        expected = list if getattr(request, _ARRAY_BODY_ATTR, False) else dict
        if not isinstance(data, expected):
            wanted = "array" if expected is list else "object"
            raise BadRequestBody(f"the body must be a JSON {wanted}, not {type(data).__name__}")
        # ninja hands the body to the operation's one body parameter, whatever its type.
        return cast("dict[str, Any]", data)
