"""Per-write-key rate limits: a token bucket per key on events per second.

Each key's bucket holds `burst_seconds` worth of events and refills at its
rate. A batch takes as many tokens as it has events; when the bucket lacks
them, nothing is taken and the caller learns how long to wait. A batch larger
than the whole bucket is let through once the bucket is full, leaving a debt,
so big batches are slowed, never starved. Buckets live in one ingest replica:
the limit applies per replica.
"""

import time
from collections.abc import Callable


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst_seconds: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(rate * burst_seconds, 1.0)
        self.tokens = self.capacity
        self.updated = now

    def take(self, count: int, now: float) -> float:
        """Take `count` tokens and return 0.0, or take none and return the seconds until they would be there."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        needed = min(count, self.capacity)
        if self.tokens >= needed:
            self.tokens -= count
            return 0.0
        return (needed - self.tokens) / self.rate


class RateLimiter:
    """Buckets by key digest; `default_rate` applies to keys whose project sets none (0 = unlimited)."""

    _MAX_BUCKETS = 100_000

    def __init__(self, default_rate: float, burst_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._default_rate = default_rate
        self._burst_seconds = burst_seconds
        self._clock = clock
        self._buckets: dict[bytes, TokenBucket] = {}

    def wait_for(self, key: bytes, rate: float | None, count: int) -> float:
        """0.0 when `count` events may pass now (and are counted), else the seconds to wait first."""
        rate = rate or self._default_rate
        if not rate:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate:
            if len(self._buckets) >= self._MAX_BUCKETS:
                self._buckets.clear()  # bounded memory; a fresh bucket is a full one, which only errs generous
            bucket = self._buckets[key] = TokenBucket(rate, self._burst_seconds, now)
        return bucket.take(count, now)
