"""A method an API path does not have is a JSON ``405`` naming the allowed ones.

django-ninja answers it with a plain-text body; every other API error is the
JSON error shape (``errors.py``), so ``CourierAPI`` wraps the views of its
URL patterns to answer this one in that shape too, with the same ``Allow``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI

from courier_web.api.errors import error_body

__all__ = ["CourierAPI", "json_method_not_allowed"]

View = Callable[..., HttpResponseBase]


def json_method_not_allowed(view: View) -> View:
    """``view``, with a non-JSON 405 it answers turned into the API's JSON error."""

    @functools.wraps(view)  # keeps ninja's csrf_exempt marker
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        allowed = response.get("Allow", "")
        answer = JsonResponse(
            error_body(
                "method_not_allowed",
                f"{request.method} is not allowed here; allowed: {allowed or 'none'}",
            ),
            status=405,
        )
        answer["Allow"] = allowed
        return answer

    return wrapper


class CourierAPI(NinjaAPI):
    """``NinjaAPI`` whose every answer, a wrong method's included, is JSON."""

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        return [_wrapped(pattern) for pattern in patterns], app_name, namespace


def _wrapped(pattern: URLResolver | URLPattern) -> URLResolver | URLPattern:
    if not isinstance(pattern, URLPattern):
        return pattern
    return URLPattern(
        pattern.pattern,
        json_method_not_allowed(pattern.callback),
        pattern.default_args,
        pattern.name,
    )
