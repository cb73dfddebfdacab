"""Headers SecurityMiddleware does not set: Content-Security-Policy.

The API and probes serve JSON only, so they get a policy that allows nothing;
the Swagger UI page (/api/docs) and the admin load their own scripts and styles.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

LOCKED_DOWN = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: Swagger UI: its bundle and init script from /static/ninja/, inline style
#: attributes, the OpenAPI document fetched from our origin, data: icons.
DOCS = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
#: Django's admin: its own static files and forms.
ADMIN = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def policy_for(path: str) -> str:
    if path == "/api/docs" or path.startswith("/static/"):
        return DOCS
    if path.startswith("/admin/"):
        return ADMIN
    return LOCKED_DOWN


class ContentSecurityPolicyMiddleware:
    """Sets ``Content-Security-Policy`` unless the response chose its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy_for(request.path)
        return response
