"""``/healthz`` (the process answers) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from courier_web.health.checks import registered_checks


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: no database or broker call, so a slow dependency never kills the pod."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready: 200 only when the database and the broker answer, else 503 naming the failure."""
    results: dict[str, str] = {}
    for name, check in registered_checks().items():
        try:
            check()
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
        else:
            results[name] = "ok"
    ok = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": results}, status=200 if ok else 503
    )
