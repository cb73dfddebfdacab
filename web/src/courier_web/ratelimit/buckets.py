"""Token buckets: ``capacity`` tokens, refilled at ``capacity / period`` per second.

A client may burst up to the full limit, then goes at the steady rate. Two
implementations with one interface: ``LocalBucket`` (per process, thread-safe)
and ``RedisBucket`` (one Lua script, so every web instance shares the bucket
and the read-refill-take-write step is atomic).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    """``limit`` requests per ``period`` seconds."""

    limit: int
    period: float

    @property
    def per_second(self) -> float:
        return self.limit / self.period

    def __str__(self) -> str:
        return f"{self.limit}/{self.period:g}s"


def parse_rate(raw: str) -> Rate | None:
    """``"120/minute"``, ``"10/second"``, ``"1000/5minutes"``; ``"0"``/``"off"``/``""`` → None."""
    text = raw.strip().lower()
    if text in {"", "0", "off", "none", "false"}:
        return None
    match = _RATE.match(text)
    if match is None:
        raise ImproperlyConfigured(
            f"API_RATE_LIMIT={raw!r}: use '<count>/<second|minute|hour|day>' (e.g. 120/minute), "
            "or 0/off to disable"
        )
    count, multiple, unit = int(match[1]), int(match[2] or 1), match[3]
    if count == 0:
        return None
    return Rate(limit=count, period=_PERIODS[unit] * multiple)


@dataclass(frozen=True)
class Decision:
    """The answer for one request, with what the RateLimit-* headers need."""

    allowed: bool
    limit: int
    remaining: int
    #: Seconds until the bucket is full again (RateLimit-Reset).
    reset: int
    #: Seconds until one token is available (Retry-After); 0 when allowed.
    retry_after: int


def decide(rate: Rate, *, allowed: bool, tokens: float) -> Decision:
    per_second = rate.per_second
    missing_for_one = max(0.0, 1.0 - tokens)
    return Decision(
        allowed=allowed,
        limit=rate.limit,
        remaining=max(0, math.floor(tokens)),
        reset=math.ceil(max(0.0, rate.limit - tokens) / per_second),
        retry_after=0 if allowed else max(1, math.ceil(missing_for_one / per_second)),
    )


class Bucket(Protocol):
    """Takes one token for ``key``; None when it cannot tell (fail open)."""

    rate: Rate

    def take(self, key: str) -> Decision | None: ...


class LocalBucket:
    """Buckets in this process's memory: a lock-guarded LRU of (tokens, last refill)."""

    def __init__(
        self,
        rate: Rate,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> Decision:
        capacity, per_second = float(self.rate.limit), self.rate.per_second
        with self._lock:
            now = self._clock()
            tokens, last = self._state.pop(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * per_second)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._state[key] = (tokens, now)
            if len(self._state) > self._max_keys:
                # The least recently seen client: at worst it gets a full bucket back.
                self._state.popitem(last=False)
        return decide(self.rate, allowed=allowed, tokens=tokens)


# KEYS[1]: the bucket's key. ARGV: capacity, tokens per second.
# Uses the server's clock, so web instances with skewed clocks still agree.
# Returns {allowed (0/1), tokens left as a string}.
_TAKE_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisBucket:
    """One bucket per key in Redis, shared by every web instance, updated atomically.

    When Redis does not answer (within ``timeout``), ``take`` returns None and
    the caller lets the request through; after a failure Redis is not asked
    again for ``retry_after`` seconds, so an outage costs one timeout, not one
    per request.
    """

    def __init__(
        self,
        rate: Rate,
        client: Any,
        *,
        prefix: str = "courier:ratelimit:",
        retry_after: float = 5.0,
        on_error: Callable[[Exception], None] | None = None,
        on_recovery: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.prefix = prefix
        self._client = client
        self._script = client.register_script(_TAKE_SCRIPT)
        self._retry_after = retry_after
        self._on_error = on_error
        self._on_recovery = on_recovery
        self._clock = clock
        self._down_until = 0.0
        self._down = False

    @classmethod
    def from_url(cls, rate: Rate, url: str, *, timeout: float, **kwargs: Any) -> RedisBucket:
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        return cls(rate, client, **kwargs)

    def take(self, key: str) -> Decision | None:
        if self._down and self._clock() < self._down_until:
            return None
        try:
            allowed, tokens = self._script(
                keys=[self.prefix + key], args=[self.rate.limit, repr(self.rate.per_second)]
            )
        except Exception as exc:  # redis.RedisError, OSError: fail open
            self._down_until = self._clock() + self._retry_after
            if not self._down and self._on_error is not None:
                self._on_error(exc)
            self._down = True
            return None
        if self._down:
            self._down = False
            if self._on_recovery is not None:
                self._on_recovery()
        return decide(self.rate, allowed=bool(int(allowed)), tokens=float(tokens))
