"""The bench's own event: a probe whose handler stands for a slow call (the scaling section).

A contract like any other (a ``shared_contracts.Event`` subclass registers
itself when its class is defined), handled like any other
(``bench/apps/io_worker.py`` declares its handler with ``@handles``): the
scaling section adds an event to the real worker through the same places a
feature does, and replaces nothing of the worker's.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field
from shared_contracts import Event


class IoProbeSent(Event):
    """The bench sent a probe whose handler waits, as for an SMTP or HTTP call.

    Emitted: by the bench's scaling section only, straight to the broker.
    Key field: ``sequence`` (the bench's counter).
    """

    event_type: ClassVar[str] = "bench.io_probe_sent.v1"
    schema_version: ClassVar[int] = 1

    sequence: Annotated[int, Field(ge=0)]
    note: Annotated[str, Field(max_length=200)] = ""


__all__ = ["IoProbeSent"]
