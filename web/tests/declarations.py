"""Declaring an emission for one test only: ``with declared(Event, on=..., ...) as emission:``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from courier_web.outbox import Emission, emits


@contextmanager
def declared(event: Any, **declaration: Any) -> Iterator[Emission]:
    """``emits(event, **declaration)`` inside the block; undeclared (disconnected) after it."""
    emission = emits(event, **declaration)
    try:
        yield emission
    finally:
        emission.disconnect()
