"""Fixtures for the processor tests: bounded per-test streams, a JetStream client and a writer's pool."""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from nats.js import JetStreamContext

from config import Settings
from messaging.streams import connect, ensure_streams
from processor.writer import prepare_connection
from storage.database import create_pool


@pytest.fixture
async def jetstream(settings: Settings) -> AsyncIterator[JetStreamContext]:
    """A JetStream client on the test's NATS server, with the test's streams declared."""
    nc = await connect(settings.nats_url, name="processor-tests")
    js = nc.jetstream(timeout=10)
    await ensure_streams(js, settings)
    try:
        yield js
    finally:
        await nc.close()


async def _writer_pool(database_url: str) -> asyncpg.Pool:
    # The same pool shape the processor uses: staging table per connection, UTC session.
    return await create_pool(database_url, size=4, init=prepare_connection, server_settings={"timezone": "UTC"})


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
