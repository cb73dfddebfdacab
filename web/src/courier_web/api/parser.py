"""Request body parsing that tells a wrong content type from malformed JSON."""

from __future__ import annotations

import json
from typing import Any, cast

from django.http import HttpRequest
from ninja.parser import Parser


class BadRequestBody(ValueError):
    """The body cannot be read as a JSON object; the message says why."""


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
        if not isinstance(data, dict):
            raise BadRequestBody(f"the body must be a JSON object, not {type(data).__name__}")
        return cast("dict[str, Any]", data)
