"""Login brute-force throttle: at most N failed logins per email per window.

The count lives in this process's memory, so it is per query-service replica:
with R replicas an attacker gets at most R*N guesses per window for one email.
That bounds online guessing well enough against argon2-hashed passwords; a
shared limit (PostgreSQL or NATS KV) is the upgrade if replicas multiply.

Memory is bounded: at most `max_tracked` emails are tracked, the least recently
failed forgotten first (an attacker spraying many emails only evicts entries).
"""

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from query.errors import RateLimitedError

DEFAULT_MAX_FAILURES = 5
DEFAULT_WINDOW_SECONDS = 300.0
DEFAULT_MAX_TRACKED = 10_000


class LoginThrottle:
    def __init__(
        self,
        max_failures: int = DEFAULT_MAX_FAILURES,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        max_tracked: int = DEFAULT_MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = max_failures
        self._window = window_seconds
        self._max_tracked = max_tracked
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, email: str, now: float) -> deque[float] | None:
        failures = self._failures.get(email)
        if failures is None:
            return None
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        if not failures:
            del self._failures[email]
            return None
        return failures

    def check(self, email: str) -> None:
        """Raise RateLimitedError while `email` has used up its failures in the window."""
        now = self._clock()
        failures = self._recent(email, now)
        if failures is not None and len(failures) >= self._max_failures:
            retry_after = max(1, math.ceil(failures[0] + self._window - now))
            raise RateLimitedError(
                f"too many failed logins for this email; try again in {retry_after} s", retry_after
            )

    def record_failure(self, email: str) -> None:
        now = self._clock()
        failures = self._recent(email, now) or deque(maxlen=self._max_failures)
        failures.append(now)
        self._failures[email] = failures
        self._failures.move_to_end(email)
        while len(self._failures) > self._max_tracked:
            self._failures.popitem(last=False)

    def record_success(self, email: str) -> None:
        self._failures.pop(email, None)
