"""Writes of the site statistics: only ever to forget them."""

from __future__ import annotations

import structlog

from courier_web.stats.selectors import stats_cache

__all__ = ["stats_invalidate"]

log = structlog.get_logger(__name__)


def stats_invalidate() -> None:
    """Forget the cached statistics: the next read computes them afresh."""
    stats_cache.invalidate()
    log.debug("stats.invalidated")
