"""Event payload models, one module per subdomain."""

from shared_contracts.events.base import Event
from shared_contracts.events.diagnostics import ProbeSent
from shared_contracts.events.users import UserRegistered

__all__ = ["Event", "ProbeSent", "UserRegistered"]
