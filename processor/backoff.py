"""Waiting out a PostgreSQL outage with JetStream messages in hand, for every consumer of the processor.

Which errors mean the database is away (retry the same rows later) and which mean it refuses the data
itself (retrying cannot help), and the retry loop that keeps the messages ours meanwhile, so JetStream
does not redeliver them to another replica while this one waits.
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from nats.aio.msg import Msg

logger = logging.getLogger(__name__)

T = TypeVar("T")

DATA_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, asyncpg.ProgramLimitExceededError)
"""PostgreSQL refusing the data itself: retrying the same rows cannot help."""


def is_unavailable(error: BaseException) -> bool:
    return isinstance(
        error,
        OSError
        | asyncpg.InterfaceError
        | asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.OperatorInterventionError
        | asyncpg.InsufficientResourcesError
        # What asyncpg raises when the server ends a connection in the middle of a COPY.
        | asyncpg.InternalClientError
        | TimeoutError,
    )


async def until_available(
    action: Callable[[], Awaitable[T]],
    in_hand: list[Msg],
    retry_max: float,
    on_retry: Callable[[BaseException, float], None],
) -> T:
    """Run `action`, backing off while the database is unavailable; other errors (data ones) propagate."""
    delay = 0.1
    while True:
        try:
            return await action()
        except Exception as error:
            if not is_unavailable(error):
                raise
            on_retry(error, delay)
        await asyncio.gather(*(msg.in_progress() for msg in in_hand), return_exceptions=True)
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 2, retry_max)
