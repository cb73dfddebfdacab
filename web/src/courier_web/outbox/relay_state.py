"""The relay's plain data: what it is told, what it reports, where a run stands."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import timedelta

from courier_web.outbox.claims import Position

__all__ = ["Drain", "RelayConfig", "RelayHealth", "RelayStats", "Step"]


@dataclass
class RelayStats:
    """What a relay run has done so far."""

    sent: int = 0
    failed: int = 0
    broker_errors: int = 0
    #: Steps cut short because the database was away.
    database_errors: int = 0


@dataclass(frozen=True)
class RelayHealth:
    """Whether the relay's dependencies answer now (False until first proven)."""

    broker_up: bool
    database_up: bool
    database_errors: int


@dataclass(frozen=True)
class RelayConfig:
    """How the relay claims, waits and prunes."""

    batch_size: int
    poll_interval: float
    grace: float
    #: Sent rows are deleted once older than this; None keeps them forever.
    retention: timedelta | None = None
    #: Seconds between two prunes (each at most ``prune_batches`` batches).
    prune_interval: float = 300.0
    prune_batch_size: int = 1000
    prune_batches: int = 10


class Step(enum.Enum):
    """What the loop does after a step."""

    GO_ON = "go on"
    BACK_OFF = "back off"  # the broker did not take it: wait, then try again
    RECONNECT = "reconnect"  # the database is away: wait, then connect again
    STOP = "stop"  # ``once``: done, or the broker or the database failed


@dataclass
class Drain:
    """Where one run of the relay stands between two steps."""

    #: When the next sweep is due; until then, notified rows are claimed by id.
    next_sweep: float
    #: When the last progress line was logged.
    last_progress: float
    #: Where the next sweep starts: after the last full batch, or None for the top.
    position: Position | None = None
    #: Row ids announced by NOTIFY, claimed by id (an index lookup): the full
    #: sweep walks the pending index, past entries of rows already sent until
    #: vacuum, so it runs once per poll interval, not once per commit.
    notified: list[int] = field(default_factory=list)
    #: When the current backlog (a run of full batches) started, and what it sent.
    backlog_started: float | None = None
    backlog_sent: int = 0
