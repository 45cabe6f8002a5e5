"""Waiting for asynchronous outcomes in tests: poll with a deadline, never a fixed sleep."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 15) -> T:
    """Poll `probe` until `done(result)` or the deadline; returns the last result either way."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)
