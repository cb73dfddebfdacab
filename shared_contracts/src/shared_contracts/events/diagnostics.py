"""Events that exist to exercise the pipeline (probes, benchmarks)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field
from shared_contracts.events.base import Event


class ProbeSent(Event):
    """An operator or a benchmark sent a probe through the pipeline.

    Emitted: on demand, by tools; consumers record it and do nothing else.
    Key field: ``sequence`` (the sender's counter, for accounting).
    """

    event_type: ClassVar[str] = "diagnostic.probe_sent.v1"
    schema_version: ClassVar[int] = 1

    sequence: Annotated[int, Field(ge=0)]
    note: Annotated[str, Field(max_length=200)] = ""
