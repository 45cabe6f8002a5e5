"""When each write key was last used, written in one statement every few seconds.

Authentication is served from a cache, so recording use per batch must not
cost a database round trip either: batches only note the key in memory, and
a background task writes the notes (`api_keys.last_used_at`) periodically and
once more at shutdown. A failed write keeps its notes for the next attempt.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg

logger = logging.getLogger(__name__)

_WRITE_USAGE = """
UPDATE api_keys AS k SET last_used_at = greatest(k.last_used_at, u.used_at)
FROM unnest($1::bytea[], $2::timestamptz[]) AS u(key_hash, used_at)
WHERE k.key_hash = u.key_hash
"""


class KeyUsageRecorder:
    def __init__(self, pool: asyncpg.Pool, interval: float) -> None:
        self._pool = pool
        self._interval = interval
        self._used: dict[bytes, datetime] = {}
        self._task: asyncio.Task | None = None

    def record(self, key_digest: bytes) -> None:
        self._used[key_digest] = datetime.now(UTC)

    async def flush(self) -> None:
        if not self._used:
            return
        used, self._used = self._used, {}
        try:
            await self._pool.execute(_WRITE_USAGE, list(used), list(used.values()))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            logger.warning("could not record key usage (%r); will retry", error)
            for digest, at in used.items():  # newer notes taken meanwhile win
                self._used.setdefault(digest, at)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="key-usage")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
