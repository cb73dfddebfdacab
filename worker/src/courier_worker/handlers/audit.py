"""Handlers for the audit trail: the web's record changes, kept in the worker's database."""

from __future__ import annotations

import structlog
from shared_contracts import Envelope
from shared_contracts.events.audit import EntityChanged

from courier_worker.audit_store import AuditEntry, audit_trail
from courier_worker.handlers.base import Dependencies
from courier_worker.handlers.registry import handles
from courier_worker.queues import BULK
from courier_worker.read_model import user_directory

log = structlog.get_logger(__name__)


@handles(EntityChanged, queue=BULK)
def record_entity_change(envelope: Envelope[EntityChanged], deps: Dependencies) -> None:
    """Keep the change in the audit trail, once per event id however often it is delivered;
    a user's change also moves the read model (reports) on, if it is newer."""
    user_directory().apply_change(envelope)
    entry = AuditEntry.from_envelope(envelope)
    recorded = audit_trail().record(entry)
    log.info(
        "audit.recorded" if recorded else "audit.already_recorded",
        entity=entry.entity,
        entity_id=entry.entity_id,
        action=entry.action,
        version=entry.version,
    )
