"""What every analytics query shares: the date range check, the event's person in SQL, and running
under a read-only transaction with a statement timeout, so one huge query fails alone with a clear error
instead of piling up load on the database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg

from query.errors import BadUserInputError

STATEMENT_TIMEOUT = timedelta(seconds=30)
"""Longest an analytics statement may run."""

PERSON_SQL = "coalesce('p:' || pdi.person_id::text, 'd:' || e.distinct_id)"
"""The person of event `e` (needs `person_joins`): prefixed so a distinct id spelled like a person's uuid
stays someone else, and an unmapped distinct id counts as its own person."""


def validate_date_range(date_from: datetime, date_to: datetime) -> None:
    for name, value in (("from", date_from), ("to", date_to)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise BadUserInputError(f"dateRange.{name} must carry a UTC offset")
    if date_to <= date_from:
        raise BadUserInputError("dateRange.to must be after dateRange.from")


def person_joins(project: str, *, traits: bool) -> str:
    """Joins giving `pdi` for events `e`, and `p` (the person's row) when `traits` are read."""
    joins = "LEFT JOIN person_distinct_ids pdi ON pdi.project_id = e.project_id AND pdi.distinct_id = e.distinct_id"
    if traits:
        joins += f" LEFT JOIN persons p ON p.id = pdi.person_id AND p.project_id = {project}"
    return joins


@asynccontextmanager
async def read_only(connection: asyncpg.Connection, narrow: str) -> AsyncIterator[None]:
    """A read-only transaction under STATEMENT_TIMEOUT; a timeout becomes BAD_USER_INPUT saying what to `narrow`."""
    try:
        async with connection.transaction(readonly=True):
            # JIT compiling costs hundreds of milliseconds for our wide statements, more than it saves.
            await connection.execute(
                "SELECT set_config('statement_timeout', $1, true), set_config('jit', 'off', true)",
                f"{int(STATEMENT_TIMEOUT.total_seconds() * 1000)}ms",
            )
            yield
    except asyncpg.QueryCanceledError:
        raise BadUserInputError(
            f"the query took longer than {STATEMENT_TIMEOUT.total_seconds():.0f} s; narrow {narrow}"
        ) from None


async def fetch_read_only(
    connection: asyncpg.Connection, sql: str, values: list[object], narrow: str
) -> list[asyncpg.Record]:
    """One statement run as `read_only` does."""
    async with read_only(connection, narrow):
        return await connection.fetch(sql, *values)
