"""Waiting for asynchronous outcomes in tests: poll with a deadline, never a fixed sleep."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 15) -> T:
    """Poll `probe` until `done(result)` or the deadline; returns the last result either way."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def stored_count(db: asyncpg.Connection, project_id) -> int:
    return await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id)


async def wait_for_stored(db: asyncpg.Connection, project_id, expected: int, within: float = 20) -> int:
    """The project's stored event count once it reaches `expected` (or when the deadline passes)."""
    return await eventually(lambda: stored_count(db, project_id), lambda count: count >= expected, within)
