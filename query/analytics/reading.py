"""What every analytics query shares: the date range check, the event's person in SQL, and running
under a read-only transaction with a statement timeout, so one huge query fails alone with a clear error
instead of piling up load on the database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg

from query.errors import BadUserInputError

STATEMENT_TIMEOUT = timedelta(seconds=30)
"""Longest an analytics statement may run."""

WORK_MEM = "64MB"
"""Memory each sort or hash of an analytics statement may use before spilling to disk."""

PERSON_SQL = "coalesce(e.person_id, md5('d:' || e.distinct_id)::uuid)"
"""The person of event `e` as a uuid: the one the processor stored with it (kept current through merges); a
non-bot event stored without one (written before identity existed, or by hand) counts its distinct id as its
own person, under a uuid derived from it that no person row has."""

PERSON_LABEL_SQL = "coalesce('p:' || e.person_id::text, 'd:' || e.distinct_id)"
"""The person of event `e` as text that names it: `p:<person id>`, or `d:<distinct id>` for a distinct id
without a person. Slower to sort and hash than PERSON_SQL: only where the person must be named."""


MAX_RANGE = timedelta(days=732)
"""Longest date range (two years) of the queries that scan raw rows without buckets to bound them."""


EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)
"""Bounds of a date range. asyncpg sends datetime.min and datetime.max as -infinity and infinity, so a range
whose first (local) bucket started at 0001-01-01 made generate_series endless until the statement timeout;
a year of margin on either side keeps every bucket, in any timezone, a finite time."""


def validate_date_range(date_from: datetime, date_to: datetime, max_range: timedelta | None = None) -> None:
    for name, value in (("from", date_from), ("to", date_to)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise BadUserInputError(f"dateRange.{name} must carry a UTC offset")
        try:
            in_utc = value.astimezone(UTC)
        except OverflowError:
            in_utc = None
        if in_utc is None or not EARLIEST <= in_utc <= LATEST:
            raise BadUserInputError(f"dateRange.{name} is out of range: it must lie in years 2 to 9998 (UTC)")
    if date_to <= date_from:
        raise BadUserInputError("dateRange.to must be after dateRange.from")
    if max_range is not None and date_to - date_from > max_range:
        raise BadUserInputError(f"the date range may span at most {max_range.days} days")


def person_joins(project: str, *, traits: bool) -> str:
    """The join giving `p`, the person's row of event `e`, when its traits are read."""
    if not traits:
        return ""
    return f"LEFT JOIN persons p ON p.id = e.person_id AND p.project_id = {project}"


@asynccontextmanager
async def read_only(
    connection: asyncpg.Connection, narrow: str, *, isolation: str = "read_committed"
) -> AsyncIterator[None]:
    """A read-only transaction under STATEMENT_TIMEOUT; a timeout becomes BAD_USER_INPUT saying what to `narrow`.

    `isolation="repeatable_read"` gives several statements one snapshot.
    """
    try:
        async with connection.transaction(readonly=True, isolation=isolation):
            # JIT compiling costs hundreds of milliseconds for our wide statements, more than it saves;
            # sorts and hashes of a month of events spill to disk with the default 4 MB.
            await connection.execute(
                "SELECT set_config('statement_timeout', $1, true), set_config('jit', 'off', true),"
                " set_config('work_mem', $2, true)",
                f"{int(STATEMENT_TIMEOUT.total_seconds() * 1000)}ms", WORK_MEM,
            )
            yield
    except asyncpg.QueryCanceledError:
        raise BadUserInputError(
            f"the query took longer than {STATEMENT_TIMEOUT.total_seconds():.0f} s; narrow {narrow}"
        ) from None
    except asyncpg.CharacterNotInRepertoireError:
        # PostgreSQL text cannot hold NUL: an event name, property or value the request gave holds one.
        raise BadUserInputError("text values may not contain NUL characters") from None


async def fetch_read_only(
    connection: asyncpg.Connection, sql: str, values: list[object], narrow: str
) -> list[asyncpg.Record]:
    """One statement run as `read_only` does."""
    async with read_only(connection, narrow):
        return await connection.fetch(sql, *values)
