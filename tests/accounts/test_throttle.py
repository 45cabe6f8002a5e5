"""The login throttle counts failures per email in a sliding window, in bounded memory."""

import pytest

from query.auth.throttle import LoginThrottle
from query.errors import RateLimitedError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fifth_failure_blocks_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=5, window_seconds=300, clock=clock)
    for _ in range(4):
        throttle.record_failure("a@example.com")
        clock.now += 10
    throttle.check("a@example.com")
    throttle.record_failure("a@example.com")

    with pytest.raises(RateLimitedError) as refused:
        throttle.check("a@example.com")
    assert refused.value.retry_after_seconds == 260
    assert refused.value.extensions == {"code": "RATE_LIMITED", "retryAfterSeconds": 260}

    clock.now += 260
    throttle.check("a@example.com")


def test_success_clears_the_failures() -> None:
    throttle = LoginThrottle(max_failures=2, clock=Clock())
    throttle.record_failure("a@example.com")
    throttle.record_success("a@example.com")
    throttle.record_failure("a@example.com")
    throttle.check("a@example.com")


def test_memory_is_bounded_by_forgetting_the_least_recent_email() -> None:
    throttle = LoginThrottle(max_failures=1, max_tracked=3, clock=Clock())
    for index in range(10):
        throttle.record_failure(f"user{index}@example.com")

    assert len(throttle._failures) == 3
    throttle.check("user0@example.com")
    with pytest.raises(RateLimitedError):
        throttle.check("user9@example.com")
