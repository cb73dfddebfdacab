"""The answer while the database is away: ``503`` with ``Retry-After``, and one log line.

Used by the API's exception handler and by the ``handler500`` view
(``errors.py``); the OpenAPI document lists the 503 on every operation.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
from django.http import HttpRequest, JsonResponse
from ninja import NinjaAPI

from courier_web.health.database import (
    DatabaseFailure,
    classify_database_error,
    describe_database_error,
)

__all__ = [
    "DATABASE_RETRY_AFTER_SECONDS",
    "database_unavailable_response",
    "document_database_unavailable",
]

log = structlog.get_logger(__name__)


#: Seconds a client is asked to wait after a 503 for a database that is away:
#: about a restart's length; a failover takes longer and the client asks again.
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = {
    "error": {
        "code": "database_unavailable",
        "message": f"the database is unavailable; retry in {DATABASE_RETRY_AFTER_SECONDS} seconds",
    }
}


class _OutageLog:
    """One warning when requests start failing on the database, then one per ``every`` seconds.

    Every failed request has its access-log line already (status 503); this
    says why without a line, or a traceback, per request.
    """

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._lock = threading.Lock()
        self._next = 0.0
        self._suppressed = 0

    def report(self, exc: BaseException, failure: DatabaseFailure, path: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._next = self._suppressed, 0, now + self.every
        fields = {"path": path, "error": describe_database_error(exc), "since_last": suppressed}
        if failure is DatabaseFailure.MISCONFIGURED:
            log.error("api.database_misconfigured", **fields)
        else:
            log.warning("api.database_unavailable", **fields)


_outage_log = _OutageLog()


def database_unavailable_response(request: HttpRequest, exc: BaseException) -> JsonResponse | None:
    """The 503 for a database error that is about the database's availability, else None."""
    failure = classify_database_error(exc)
    if failure is DatabaseFailure.OTHER:
        return None
    _outage_log.report(exc, failure, request.path)
    response = JsonResponse(DATABASE_UNAVAILABLE, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def document_database_unavailable(api: NinjaAPI) -> None:
    """Add the 503 to every operation of the OpenAPI document: each one reads the database."""
    build_schema = api.get_openapi_schema

    def get_openapi_schema(**kwargs: Any) -> Any:
        document = build_schema(**kwargs)
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                operation.setdefault("responses", {}).setdefault(
                    "503",
                    {
                        "description": (
                            "The database is unavailable (a restart or failover): retry "
                            "after Retry-After seconds"
                        ),
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ErrorOut"}
                            }
                        },
                    },
                )
        return document

    api.get_openapi_schema = get_openapi_schema  # type: ignore[method-assign]
