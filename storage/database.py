"""Connections to PostgreSQL."""

import asyncpg


async def create_pool(url: str, *, size: int = 10, **options: object) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=size,
        # JSON columns are handed over as text: the pipeline already holds JSON
        # text and never needs a second encode.
        command_timeout=60,
        **options,
    )
    assert pool is not None
    return pool


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)
