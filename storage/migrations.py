"""Apply the numbered SQL files in storage/migrations/ once each, in order.

Concurrent runs are serialised with an advisory lock; each file runs in its own
transaction together with the row that records it.
"""

import logging
from importlib import resources

import asyncpg

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x7472_6B6D  # "trkm"


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("storage") / "migrations"
    files = sorted(entry for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8")) for entry in files]


async def migrate(connection: asyncpg.Connection) -> list[str]:
    """Apply pending migrations; returns the versions applied now."""
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            async with connection.transaction():
                await connection.execute(sql)
                await connection.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            logger.info("applied migration %s", version)
            applied_now.append(version)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
