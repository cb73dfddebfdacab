"""The one explicit mapping from event type to handler."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from courier_worker.handlers.base import Dependencies, Handler
from courier_worker.handlers.diagnostics import record_probe
from courier_worker.handlers.users import send_welcome_email
from shared_contracts import ProbeSent, UserRegistered

HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        UserRegistered.event_type: send_welcome_email,
        ProbeSent.event_type: record_probe,
    }
)

__all__ = ["HANDLERS", "Dependencies", "Handler"]
