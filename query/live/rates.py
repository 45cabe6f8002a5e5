"""Events per second over the last few seconds, from the live notices a subscriber receives.

A subscriber only sees notices from the moment it subscribed, so until its
window is full the part before that is filled in at a prior rate (from the
per-minute rollup, through the real-time query), rather than starting at zero.
"""

import time
from collections import deque

RATE_WINDOW_SECONDS = 10.0
"""How far back events count toward the current rate."""


class RateWindow:
    def __init__(self, prior_per_second: float, window_seconds: float = RATE_WINDOW_SECONDS) -> None:
        self._prior = prior_per_second
        self._window = window_seconds
        self._started = time.monotonic()
        self._counts: deque[tuple[float, int]] = deque()

    @property
    def window_seconds(self) -> float:
        return self._window

    def add(self, events: int) -> None:
        if events:
            self._counts.append((time.monotonic(), events))

    def per_second(self) -> float:
        now = time.monotonic()
        while self._counts and self._counts[0][0] <= now - self._window:
            self._counts.popleft()
        unseen = max(0.0, self._window - (now - self._started))
        return (sum(count for _, count in self._counts) + self._prior * unseen) / self._window
