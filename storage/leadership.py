"""Leader election among a service's replicas (alerting, destinations): a PostgreSQL session advisory lock on a
dedicated connection.

Each replica campaigns: it opens its own connection and tries
`pg_try_advisory_lock(key)` every `retry` seconds. The winner holds the lock
as long as that connection lives and runs the leader's work; it checks the
connection every `check` seconds (`SELECT 1` under a timeout) and stops the
work the moment the check fails, so a leader cut off from the database does
not keep sending. When a leader dies its connection closes, PostgreSQL
releases the lock, and another replica wins at its next try: failover takes
at most about `retry` + the server noticing the dead socket (immediate for a
killed process; TCP keepalives bound it for a vanished host).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

logger = logging.getLogger(__name__)


class Leadership:
    def __init__(self, database_url: str, key: int, *, retry_seconds: float, check_seconds: float,
                 name: str) -> None:
        self._database_url = database_url
        self._key = key
        self._retry = retry_seconds
        self._check = check_seconds
        self._name = name
        self._connection: asyncpg.Connection | None = None
        self.is_leader = False
        self.terms = 0

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Campaign forever; while leading, run `lead()` (cancelled on losing the lock)."""
        while True:
            try:
                if await self._acquire():
                    await self._lead(lead)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
                logger.warning("%s: leadership connection failed: %r", self._name, error)
            finally:
                self.is_leader = False
                await self._drop_connection()
            await asyncio.sleep(self._retry)

    async def _acquire(self) -> bool:
        async with asyncio.timeout(max(self._retry, 5.0)):
            self._connection = await asyncpg.connect(self._database_url, server_settings={
                "application_name": f"trackmint-{self._name}-leader",
            })
            return bool(await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", self._key))

    async def _lead(self, lead: Callable[[], Awaitable[None]]) -> None:
        self.is_leader = True
        self.terms += 1
        logger.info("%s: this replica is the leader", self._name)
        work = asyncio.create_task(lead(), name=f"{self._name}-leader-work")
        try:
            while not work.done():
                done, _ = await asyncio.wait({work}, timeout=self._check)
                if done:
                    break
                assert self._connection is not None
                try:
                    async with asyncio.timeout(self._check):
                        await self._connection.fetchval("SELECT 1")
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                    logger.warning("%s: lost the leader lock connection; stepping down", self._name)
                    raise
            work.result()  # the work ending by itself is a bug: raise it here
        finally:
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None or connection.is_closed():
            return
        try:
            async with asyncio.timeout(2):
                await connection.close()  # closing the session releases the lock
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            connection.terminate()

    def abort(self) -> None:
        """Drop the lock connection at once, as a crashing process would (tests kill a leader with it)."""
        if self._connection is not None:
            self._connection.terminate()
