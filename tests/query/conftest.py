"""A real query service (uvicorn on a free port) over the session's test database."""

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from config import Settings, load_settings
from tests.query.servers import start_server, stop_server


@pytest.fixture(scope="session")
def query_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # Not the shared `settings` fixture: the query service needs no NATS, so this
    # suite does not start one.
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("query"),
        query_host="127.0.0.1",
        query_port=0,
        database_pool_size=4,
    )


@pytest.fixture(scope="session")
async def query_url(query_settings: Settings) -> AsyncIterator[str]:
    server, task, url = await start_server(query_settings)
    try:
        yield url
    finally:
        await stop_server(server, task)


@pytest.fixture(scope="session")
async def client(query_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=query_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
async def module_db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection for data set up once per module (the shared `db` is per test)."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()
