"""Request bodies larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` get a JSON ``413``.

Django enforces the limit only when a view reads ``request.body`` and only
from ``Content-Length``; a body sent with ``Transfer-Encoding: chunked`` has
none, so Django would read it as empty. Here a declared length over the limit
is refused before anything else runs, and a chunked body is read up to the
limit (and refused beyond it), then handed on as an ordinary, sized body.
Some paths take larger bodies (``HTTP_BODY_LIMITS_BY_PATH``: document
uploads); a large chunked body is spooled to a temporary file, not memory.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import BinaryIO

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
        # Paths that take more (uploads): path -> limit in bytes.
        self.path_limits: dict[str, int] = dict(getattr(settings, "HTTP_BODY_LIMITS_BY_PATH", {}))

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        limit = self.path_limits.get(request.path_info, self.limit)
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
            spooled = _read_at_most(request, limit)
            if spooled is None:
                return too_large(limit)
            # Hand the views an ordinary body of known length (an upload's
            # stays in its spool file, not in memory).
            size = spooled.seek(0, io.SEEK_END)
            spooled.seek(0)
            request.META["CONTENT_LENGTH"] = str(size)
            if size <= _IN_MEMORY:
                request._body = spooled.read()
                request._stream = io.BytesIO(request._body)
            else:
                request._stream = spooled
        return self.get_response(request)


#: A chunked body up to this size is kept in memory; a larger one (an upload) is spooled.
_IN_MEMORY = 1024 * 1024


def _read_at_most(request: HttpRequest, limit: int) -> BinaryIO | None:
    """The whole chunked body, or None as soon as it passes ``limit`` bytes."""
    spooled: BinaryIO = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY)  # type: ignore[assignment]  # noqa: SIM115
    stream = request.META.get("wsgi.input")
    if stream is None:
        return spooled
    size = 0
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return spooled
        size += len(chunk)
        if size > limit:
            spooled.close()
            return None
        spooled.write(chunk)
