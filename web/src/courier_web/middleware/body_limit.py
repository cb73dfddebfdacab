"""Request bodies larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` get a JSON ``413``.

Django enforces the limit only when a view reads ``request.body`` and only
from ``Content-Length``; a body sent with ``Transfer-Encoding: chunked`` has
none, so Django would read it as empty. Here a declared length over the limit
is refused before anything else runs, and a chunked body is read up to the
limit (and refused beyond it), then handed on as an ordinary, sized body.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from courier_web.api.errors import error_body

_CHUNK = 64 * 1024


def too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        error_body("too_large", f"the request body is larger than {limit} bytes"), status=413
    )


class BodySizeLimitMiddleware:
    """Refuses oversized bodies early, declared or streamed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        # Read once, as Django's own middleware read their settings: each
        # attribute of the lazy ``settings`` costs about a microsecond.
        self.limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        limit = self.limit
        if limit is None:
            return self.get_response(request)
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                if int(declared) > limit:
                    return too_large(limit)
            except ValueError:
                return JsonResponse(
                    error_body("bad_request", "Content-Length is not a number"), status=400
                )
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = _read_at_most(request, limit)
            if body is None:
                return too_large(limit)
            # Hand the views an ordinary body of known length.
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._body = body
            request._stream = io.BytesIO(body)
        return self.get_response(request)


def _read_at_most(request: HttpRequest, limit: int) -> bytes | None:
    """The whole chunked body, or None as soon as it passes ``limit`` bytes."""
    stream = request.META.get("wsgi.input")
    if stream is None:
        return b""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
