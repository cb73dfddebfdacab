"""Why a message was refused: one exception per dead-letter reason."""

from __future__ import annotations


class ContractError(ValueError):
    """A message that does not honour the contracts; never worth retrying."""

    reason: str = "contract-error"


class UndecodableMessage(ContractError):
    """The body is not JSON, or not shaped like a Celery protocol v2 message."""

    reason = "undecodable"


class UnknownEventType(ContractError):
    """No contract is registered for this event type."""

    reason = "unknown-event-type"


# No longer raised: consumers read a newer revision tolerantly
# (``registry.parse_envelope``). Kept so that the dead letters of earlier
# workers, which refused one, still carry a reason the tools know.
class UnsupportedSchemaVersion(ContractError):
    """The event was written against a newer revision than this consumer knows."""

    reason = "unsupported-schema-version"


class SchemaViolation(ContractError):
    """The envelope or payload does not validate against its model."""

    reason = "schema-violation"


class MessageTooLarge(ContractError):
    """The encoded message exceeds the wire's size limit."""

    reason = "too-large"
