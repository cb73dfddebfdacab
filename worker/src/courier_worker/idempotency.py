"""Run a handler at most once per event id, as far as the worker can tell.

The order is: claim -> side effect -> record (commit the claim).

* A delivery claims the event id (``HandledEvents.claim``): an INSERT in a
  transaction that stays open while the side effect runs. The claim also
  tells a duplicate (the id is already recorded), so there is no read before
  it. A concurrent delivery of the same event waits on that claim and then
  sees it as handled: one effect.
* The record is committed only *after* the side effect. A crash in between
  (worker killed, database gone) rolls the claim back and leaves no record:
  the message was not acknowledged (``acks_late``), is redelivered, and the
  side effect happens again. A repeat is the price; the opposite order
  (record, then act) could record an effect that never happened, i.e. lose
  it. Side effects carry the event id (the email's Message-ID) so that a
  repeat can be recognised downstream.
* A handler that raises rolls its claim back too, so a later retry (or an
  operator's requeue) runs it again.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import structlog
from shared_contracts import Envelope

from courier_worker.store import HandledEvents

log = structlog.get_logger(__name__)


class Outcome(enum.StrEnum):
    """What happened to one delivery."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRIED = "retried"
    DEAD_LETTERED = "dead-lettered"


class IdempotencyGuard:
    """Wraps handlers so that an event already recorded as handled does nothing."""

    def __init__(self, store: HandledEvents) -> None:
        self.store = store

    def run(self, envelope: Envelope[Any], handler: Callable[[], None]) -> Outcome:
        with self.store.claim(envelope.event_id, envelope.event_type) as owned:
            if not owned:
                log.info("event.duplicate")
                return Outcome.DUPLICATE
            handler()
        return Outcome.HANDLED
