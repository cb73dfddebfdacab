"""Handlers that only feed the worker's read model (a rebuild's replayed registrations)."""

from __future__ import annotations

import structlog
from shared_contracts import Envelope
from shared_contracts.events.replays import UserRegistrationReplayed

from courier_worker.handlers.base import Dependencies
from courier_worker.handlers.registry import handles
from courier_worker.queues import BULK
from courier_worker.read_model import user_directory

log = structlog.get_logger(__name__)


@handles(UserRegistrationReplayed, queue=BULK)
def add_replayed_user(envelope: Envelope[UserRegistrationReplayed], deps: Dependencies) -> None:
    """Add the account to the read model (no email: it is not a new registration)."""
    added = user_directory().apply_replayed(envelope)
    log.info("read_model.replayed", user_id=envelope.payload.user_id, added=added)
