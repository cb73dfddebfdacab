"""Handlers for diagnostic events (probes, benchmarks)."""

from __future__ import annotations

import structlog

from courier_worker.handlers.base import Dependencies
from shared_contracts import Envelope, ProbeSent

log = structlog.get_logger(__name__)


def record_probe(envelope: Envelope[ProbeSent], deps: Dependencies) -> None:
    """Do nothing but log: the idempotency record is the probe's only effect."""
    log.info("probe.received", sequence=envelope.payload.sequence)
