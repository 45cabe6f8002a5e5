"""Creating projects (with their first write key)."""

from dataclasses import dataclass
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from storage.api_keys import create_api_key


class InvalidTimezoneError(ValueError):
    """The timezone is not an IANA name this machine knows."""


class InvalidRateLimitError(ValueError):
    """A rate limit that is not a positive number of events per second."""


@dataclass(frozen=True)
class CreatedProject:
    project_id: UUID
    write_key: str


async def create_project(
    connection: asyncpg.Connection, name: str, timezone: str = "UTC", *, rate_limit: int | None = None
) -> CreatedProject:
    """A project with its first write key; rate_limit in events/s per key and ingest replica (None: default)."""
    if rate_limit is not None and rate_limit <= 0:
        raise InvalidRateLimitError(f"rate limit must be a positive number of events per second, not {rate_limit}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidTimezoneError(f"unknown timezone {timezone!r}") from error
    async with connection.transaction():
        project_id = await connection.fetchval(
            "INSERT INTO projects (name, timezone, rate_limit_events_per_second) VALUES ($1, $2, $3) RETURNING id",
            name, timezone, rate_limit,
        )
        key = await create_api_key(connection, project_id, label="default")
    return CreatedProject(project_id=project_id, write_key=key.key)
