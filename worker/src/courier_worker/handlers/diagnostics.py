"""Handlers for diagnostic events (probes, benchmarks)."""

from __future__ import annotations

import structlog
from shared_contracts import Envelope, ProbeSent

from courier_worker.handlers.base import Dependencies
from courier_worker.handlers.registry import handles
from courier_worker.queues import BULK

log = structlog.get_logger(__name__)


@handles(ProbeSent, queue=BULK)
def record_probe(envelope: Envelope[ProbeSent], deps: Dependencies) -> None:
    """No side effect: the idempotency record is the probe's only effect.

    The path up to here is the real one (consumer, decode, envelope
    validation, idempotency claim and commit), which makes this event type
    the benchmark's measure of the worker's own overhead. It logs at DEBUG
    only, so that a benchmark at INFO pays for ``event.handled`` alone.
    """
    log.debug("probe.received", sequence=envelope.payload.sequence)
