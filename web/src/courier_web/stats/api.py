"""The stats HTTP interface (staff only)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from courier_web.api.errors import ErrorOut
from courier_web.stats.schemas import StatsOut
from courier_web.stats.selectors import Stats, stats_get
from courier_web.users.auth import staff_auth

router = Router(tags=["stats"])


@router.get(
    "",
    auth=staff_auth,
    response={200: StatsOut, 401: ErrorOut, 403: ErrorOut},
    summary="Users and signups per day, last 30 days, UTC (staff)",
    description=(
        "Served from the cache; a registration, an import or a deletion shows in the "
        "next read after its commit."
    ),
)
def get_stats(request: HttpRequest) -> Stats:
    return stats_get()
