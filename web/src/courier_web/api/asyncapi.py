"""``GET /api/asyncapi.json``: the AsyncAPI document of every event, beside the OpenAPI one.

The document describes the whole system (what the web publishes, which
worker queue consumes it, the retry and dead-letter queues), so the web
cannot build it alone: ``make asyncapi`` composes it from the contracts and
each service's declarations into ``asyncapi.json`` next to this module,
which ships in the web's package; a drift check in ``make test`` keeps it true.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from courier_web.api.errors import error_body

__all__ = ["ASYNCAPI_DOCUMENT", "asyncapi_document"]

ASYNCAPI_DOCUMENT = Path(__file__).with_name("asyncapi.json")
_SAFE_METHODS = ("GET", "HEAD")


@cache
def _document() -> bytes:
    # Read once: it changes only with a new release of the package.
    return ASYNCAPI_DOCUMENT.read_bytes()


@csrf_exempt  # it changes nothing: a write method is a JSON 405, not a CSRF page
def asyncapi_document(request: HttpRequest) -> HttpResponse:
    """The committed AsyncAPI document, as JSON."""
    if request.method not in _SAFE_METHODS:
        response = JsonResponse(
            error_body("method_not_allowed", f"{request.method} is not allowed here: use GET"),
            status=405,
        )
        response["Allow"] = ", ".join(_SAFE_METHODS)
        return response
    return HttpResponse(_document(), content_type="application/json")
