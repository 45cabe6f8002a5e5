"""Creating projects (with their first write key)."""

from dataclasses import dataclass
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from storage.api_keys import create_api_key


class InvalidTimezoneError(ValueError):
    """The timezone is not an IANA name this machine knows."""


@dataclass(frozen=True)
class CreatedProject:
    project_id: UUID
    write_key: str


async def create_project(connection: asyncpg.Connection, name: str, timezone: str = "UTC") -> CreatedProject:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidTimezoneError(f"unknown timezone {timezone!r}") from error
    async with connection.transaction():
        project_id = await connection.fetchval(
            "INSERT INTO projects (name, timezone) VALUES ($1, $2) RETURNING id", name, timezone
        )
        key = await create_api_key(connection, project_id, label="default")
    return CreatedProject(project_id=project_id, write_key=key.key)
