"""The JSON API (django-ninja): OpenAPI at /api/openapi.json, docs at /api/docs."""

from __future__ import annotations

from ninja import NinjaAPI

from courier_web.api.errors import install_error_handlers
from courier_web.api.parser import StrictJsonParser
from courier_web.users.api import router as users_router
from courier_web.users.api import tokens_router

api = NinjaAPI(
    title="Courier web API",
    version="1",
    description=(
        "Registers users; every registration becomes a user.registered.v1 event. "
        "Write methods are rate limited (429 with Retry-After and RateLimit-* headers)."
    ),
    parser=StrictJsonParser(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)
api.add_router("/users", users_router)
api.add_router("/tokens", tokens_router)

__all__ = ["api"]
