"""The system's AsyncAPI document, composed from the contracts and each service's part.

``build(parts, version=...)`` returns the document; ``render_markdown`` its
readable page. ``python -m shared_contracts.asyncapi`` (``make asyncapi``)
writes both from the parts the services export; ``--check`` fails on drift.
"""

from shared_contracts.asyncapi.document import ASYNCAPI_VERSION, DocumentError, build
from shared_contracts.asyncapi.markdown import render_markdown
from shared_contracts.asyncapi.parts import (
    ConsumingQueue,
    DeadLetters,
    DelayQueue,
    Handler,
    Publication,
    Queue,
    Retries,
    ServicePart,
)

__all__ = [
    "ASYNCAPI_VERSION",
    "ConsumingQueue",
    "DeadLetters",
    "DelayQueue",
    "DocumentError",
    "Handler",
    "Publication",
    "Queue",
    "Retries",
    "ServicePart",
    "build",
    "render_markdown",
]
