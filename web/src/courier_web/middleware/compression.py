"""gzip for responses worth compressing, per ``GZIP_MIN_BYTES``.

Django's GZipMiddleware compresses anything from 200 bytes; most of our JSON
answers are smaller than a TCP segment, where compressing costs CPU and saves
nothing. BREACH needs a secret reflected next to attacker input in a
compressed body; our responses carry no secrets (tokens are only issued in
``POST /api/tokens``, which is never compressed), and Django pads gzip output
with random bytes ("Heal The Breach") anyway.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware

#: Responses that must never be compressed, whatever their size.
NEVER_COMPRESSED = frozenset({"/api/tokens"})


class CompressionMiddleware(GZipMiddleware):
    """GZipMiddleware with a size threshold and a deny-list."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        super().__init__(get_response)
        # Read once (each attribute of the lazy ``settings`` costs about a
        # microsecond), as Django's own middleware read theirs.
        self.min_bytes = int(getattr(settings, "GZIP_MIN_BYTES", 1024))

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path in NEVER_COMPRESSED:
            return response
        if not response.streaming:
            content = getattr(response, "content", None)
            if content is not None and len(content) < self.min_bytes:
                return response
        return super().process_response(request, response)
