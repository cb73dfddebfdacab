"""Courier's event contracts: the one thing the web and worker services share."""

from shared_contracts.codec import (
    MAX_BODY_BYTES,
    PROTOCOL_HEADERS,
    WireMessage,
    check_headers,
    decode,
    encode,
    task_body,
)
from shared_contracts.envelope import Envelope, is_valid_correlation_id, new_envelope
from shared_contracts.errors import (
    ContractError,
    MessageTooLarge,
    SchemaViolation,
    UndecodableMessage,
    UnknownEventType,
    UnsupportedSchemaVersion,
)
from shared_contracts.events import ContractDefinitionError, Event, ProbeSent, UserRegistered
from shared_contracts.registry import EVENT_TYPES, event_model, parse_envelope
from shared_contracts.topology import (
    CORRELATION_ID_HEADER,
    DEAD_LETTER_DETAIL_HEADER,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_REASON_HEADER,
    EVENTS_EXCHANGE,
    routing_key,
)

__all__ = [
    "CORRELATION_ID_HEADER",
    "DEAD_LETTER_DETAIL_HEADER",
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_REASON_HEADER",
    "EVENTS_EXCHANGE",
    "EVENT_TYPES",
    "MAX_BODY_BYTES",
    "PROTOCOL_HEADERS",
    "ContractDefinitionError",
    "ContractError",
    "Envelope",
    "Event",
    "MessageTooLarge",
    "ProbeSent",
    "SchemaViolation",
    "UndecodableMessage",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "UserRegistered",
    "WireMessage",
    "check_headers",
    "decode",
    "encode",
    "event_model",
    "is_valid_correlation_id",
    "new_envelope",
    "parse_envelope",
    "routing_key",
    "task_body",
]
