"""The worker's own queues, and the event types bound to each.

The worker owns its queue names (the producer knows none): operators' tools,
the broker definitions in ``infra/`` and the end-to-end suite take them from
here. Which event types a queue is bound to is not written down here but
declared with each handler (``courier_worker.handlers.handles``), which binds
the event type to its queue; ``routing_keys`` reads those bindings. They are
complete once ``courier_worker.handlers`` has been imported (it imports every
handler module), which ``topology`` and the Celery app do; before that,
``routing_keys`` refuses to answer.

This module imports nothing of the worker's, so that handler modules can
name their queue (``queue=CRITICAL``) without an import circle.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class QueueSpec:
    """A queue the worker consumes; its side queues are named after it."""

    name: str

    @property
    def short_name(self) -> str:
        """The last part of the name (``critical``), as ``WORKER_QUEUES`` accepts it."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead-letter"

    def delay_queue(self, seconds: int) -> str:
        return f"{self.name}.delay.{seconds}s"


#: Events whose side effects users wait for (a welcome email).
CRITICAL = QueueSpec("courier.worker.critical")
#: Background and bulk work (probes, batches).
BULK = QueueSpec("courier.worker.bulk")
#: Every queue of the worker, in the order they are declared.
QUEUES: tuple[QueueSpec, ...] = (CRITICAL, BULK)


def queue_named(name: str) -> QueueSpec:
    """The queue called ``name`` (``critical`` or ``courier.worker.critical``).

    Raises ``ValueError`` naming the known queues, so that a worker started
    with a queue it does not have stops at once instead of consuming nothing.
    """
    wanted = name.strip()
    for spec in QUEUES:
        if wanted in (spec.name, spec.short_name):
            return spec
    known = ", ".join(f"{spec.short_name} ({spec.name})" for spec in QUEUES)
    raise ValueError(f"unknown queue {wanted!r}; the worker's queues are: {known}")


#: The queue each handled event type is bound to, filled by the declarations.
_bindings: dict[str, QueueSpec] = {}
# Checked, not imported: the handler modules import this one to name their queue.
_HANDLERS_PACKAGE = "courier_worker.handlers"


def routing_keys(spec: QueueSpec) -> tuple[str, ...]:
    """The event types bound to ``spec`` by the handler declarations, sorted.

    Raises ``RuntimeError`` until the handler modules have been imported:
    an empty answer then would be wrong, not merely incomplete.
    """
    if _HANDLERS_PACKAGE not in sys.modules:
        raise RuntimeError(
            f"import {_HANDLERS_PACKAGE} before asking for routing keys: "
            "importing it declares every handler (and so binds the queues)"
        )
    return tuple(sorted(event_type for event_type, bound in _bindings.items() if bound == spec))


def bind(event_type: str, spec: QueueSpec) -> None:
    """Route ``event_type`` to ``spec`` (called by a handler declaration, not by hand)."""
    if spec not in QUEUES:
        raise ValueError(
            f"{spec.name!r} is not one of the worker's queues "
            f"({', '.join(queue.name for queue in QUEUES)}): add it to courier_worker.queues.QUEUES"
        )
    _bindings[event_type] = spec


def unbind(event_type: str) -> None:
    """Forget ``event_type``'s binding (its handler declaration was withdrawn)."""
    _bindings.pop(event_type, None)


__all__ = [
    "BULK",
    "CRITICAL",
    "QUEUES",
    "QueueSpec",
    "bind",
    "queue_named",
    "routing_keys",
    "unbind",
]
