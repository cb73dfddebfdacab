"""``/healthz`` (the process answers) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from courier_web.health.checks import registered_checks
from courier_web.health.database import DATABASE_ERRORS, describe_database_error


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: no database or broker call, so a slow dependency never kills the pod."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready: 200 only when the database and the broker answer, else 503 naming the failure.

    ``failing`` lists the dependencies that did not answer (``["database"]``
    while PostgreSQL restarts), ``checks`` says how each one failed.
    """
    results: dict[str, str] = {}
    for name, check in registered_checks().items():
        try:
            check()
        except DATABASE_ERRORS as exc:
            results[name] = f"error: {describe_database_error(exc)}"
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
        else:
            results[name] = "ok"
    failing = [name for name, value in results.items() if value != "ok"]
    body: dict[str, object] = {"status": "unavailable" if failing else "ok", "checks": results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
