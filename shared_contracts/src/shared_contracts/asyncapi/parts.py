"""What each service declares about its side of the wire, as the AsyncAPI generator reads it.

``shared_contracts`` knows the exchange, the contracts and the message
format, but no queue and no service: each service exports its own part
(``courier-web asyncapi_part``, ``courier-worker asyncapi-part``) from its
declarations, and ``shared_contracts.asyncapi`` composes the parts into one
document. The parts are JSON, so no service imports another.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConsumingQueue",
    "DeadLetters",
    "DelayQueue",
    "Handler",
    "Publication",
    "Queue",
    "Retries",
    "ServicePart",
]

#: A name the document uses in its ids: letters, digits, dots, dashes, underscores.
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9._\-]+$", min_length=1, max_length=255)]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Publication(_Part):
    """An event type the service publishes to the events exchange, and what makes it."""

    event_type: str
    #: What makes the service publish it, one line each (``post_save of users.User``).
    triggers: tuple[str, ...] = ()


class Handler(_Part):
    """A handler of one event type on a consuming queue."""

    event_type: str
    #: The handler's dotted path.
    handler: str
    #: The exceptions that are retried besides the service's generic transient errors.
    transient: tuple[str, ...] = ()


class Queue(_Part):
    """A queue on the broker, with the ``x-`` arguments it is declared with."""

    name: Name
    arguments: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class DelayQueue(Queue):
    """A retry tier: messages wait ``seconds`` here, then go back to their consuming queue."""

    seconds: Annotated[int, Field(ge=1)]


class Retries(_Part):
    """How a consuming queue's transient failures are retried: through its delay queues."""

    #: The delay queues' name, with ``{seconds}`` for the tier.
    address: Annotated[str, Field(pattern=r"\{seconds\}")]
    #: One delay queue per tier (the default tiers), shortest first.
    queues: tuple[DelayQueue, ...]
    #: The Celery header that counts a message's retries.
    header: str
    #: The retries of one message before it is dead-lettered (by default).
    max_retries: Annotated[int, Field(ge=0)]
    description: str = ""


class DeadLetters(_Part):
    """Where a consuming queue's refused messages wait for an operator, and what they carry."""

    queue: Queue
    description: str = ""
    #: The exchange a dead letter is published to, with the queue's name as routing key.
    exchange: str
    #: The headers the service adds to a dead letter, with what each holds.
    headers: dict[str, str] = Field(default_factory=dict)
    #: The header naming the reason, and every reason with what it means.
    reason_header: str
    reasons: dict[str, str] = Field(default_factory=dict)


class ConsumingQueue(Queue):
    """A queue the service consumes, its bindings and handlers, and its side queues."""

    #: The routing keys (event types) it is bound by on the events exchange.
    bindings: tuple[str, ...]
    handlers: tuple[Handler, ...]
    dead_letters: DeadLetters | None = None
    retries: Retries | None = None


class ServicePart(_Part):
    """One service's part of the system's AsyncAPI document."""

    #: The service's name as producers stamp it (the envelope's ``producer``).
    service: Name
    description: str
    publishes: tuple[Publication, ...] = ()
    consumes: tuple[ConsumingQueue, ...] = ()
