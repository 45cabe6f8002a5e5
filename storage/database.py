"""Connections to PostgreSQL."""

import asyncpg


async def create_pool(url: str, *, size: int = 10, **options: object) -> asyncpg.Pool:
    # asyncpg's default json/jsonb codec takes and returns text, which suits us: the pipeline
    # already holds JSON text and never encodes it a second time.
    pool = await asyncpg.create_pool(url, min_size=1, max_size=size, command_timeout=60, **options)
    assert pool is not None
    return pool


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)
