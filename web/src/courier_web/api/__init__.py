"""The JSON API (django-ninja): OpenAPI at /api/openapi.json, docs at /api/docs.

The AsyncAPI document of the events (``asyncapi.json`` here, written by
``make asyncapi``) is served beside it at /api/asyncapi.json (``asyncapi.py``).
"""

from __future__ import annotations

from courier_web.api.errors import install_error_handlers
from courier_web.api.methods import CourierAPI
from courier_web.api.openapi import document_common_responses
from courier_web.api.parser import StrictJsonParser
from courier_web.documents.api import router as documents_router
from courier_web.newsletters.api import router as newsletters_router
from courier_web.reports.api import router as reports_router
from courier_web.stats.api import router as stats_router
from courier_web.users.api import router as users_router
from courier_web.users.api import tokens_router

api = CourierAPI(
    title="Courier web API",
    version="1",
    description=(
        "Registers users; every registration becomes a user.registered.v1 event. "
        "A user is read, changed and deleted by that user or staff only; anyone else "
        "gets the 404 of a missing id. Write methods are rate limited (429 with "
        "Retry-After and RateLimit-* headers)."
    ),
    parser=StrictJsonParser(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)
api.add_router("/users", users_router)
api.add_router("/tokens", tokens_router)
api.add_router("/stats", stats_router)
api.add_router("/reports", reports_router)
api.add_router("/documents", documents_router)
api.add_router("/newsletters", newsletters_router)
# Last: it documents, on every operation, what the stack and the hooks above may answer.
document_common_responses(api)

__all__ = ["api"]
