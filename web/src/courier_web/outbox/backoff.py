"""Exponential backoff with jitter, and the circuit breaker built on it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    """Delays that double from ``initial`` up to ``maximum``, with "equal jitter"."""

    def __init__(
        self,
        *,
        initial: float,
        maximum: float,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self._rng = rng
        self.failures = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** min(self.failures, 32)))
        self.failures += 1
        # Half fixed, half random: never zero, and instances spread out.
        return float(ceiling / 2 + self._rng() * ceiling / 2)

    def reset(self) -> None:
        self.failures = 0


class CircuitBreaker:
    """After a failure, refuse attempts for a backoff period instead of waiting on a dead peer."""

    def __init__(self, backoff: Backoff, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._backoff = backoff
        self._clock = clock
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._clock() < self._open_until

    def allow(self) -> bool:
        return not self.is_open

    def record_failure(self) -> float:
        delay = self._backoff.next_delay()
        self._open_until = self._clock() + delay
        return delay

    def record_success(self) -> None:
        self._backoff.reset()
        self._open_until = 0.0
