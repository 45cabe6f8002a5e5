"""A real query service (uvicorn on a free port) over the session's test database.

The session's `client` calls it as the ADMIN of one organization (`caller`);
the `project` fixture and the projects tests create belong to that organization.
"""

import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from config import Settings, load_settings
from storage.projects import CreatedProject
from tests.query.servers import start_server, stop_server
from tests.query.tenant import Caller, create_organization, create_owned_project


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
async def caller(database_url: str, query_settings: Settings) -> Caller:
    """The ADMIN of this suite's organization, with an access token the server accepts."""
    connection = await asyncpg.connect(database_url)
    try:
        return await create_organization(connection, query_settings, "Query tests")
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def client(query_url: str, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated as `caller`."""
    async with httpx.AsyncClient(base_url=query_url, timeout=30, headers=caller.headers) as http:
        yield http


@pytest.fixture
async def project(db: asyncpg.Connection, caller: Caller) -> CreatedProject:
    """A project of the caller's organization (overrides the suite-wide, organization-less one)."""
    return await create_owned_project(db, caller.organization_id, f"test-{secrets.token_hex(3)}")


@pytest.fixture(scope="module")
async def module_db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection for data set up once per module (the shared `db` is per test)."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()
