"""Fixtures for the processor tests: bounded per-test streams, a JetStream client and a writer's pool."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from processor.writer import WRITER_SESSION_SETTINGS, prepare_connection
from storage.database import create_pool


async def _writer_pool(database_url: str) -> asyncpg.Pool:
    # The same pool shape the processor uses: staging table per connection, UTC session.
    return await create_pool(database_url, size=4, init=prepare_connection, server_settings=WRITER_SESSION_SETTINGS)


@pytest.fixture
async def writer_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await _writer_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def second_writer_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Another replica's pool, for concurrent writers."""
    pool = await _writer_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()
