"""Fixtures for the schema tests: ingest, processor and the query service on one test's NATS namespace.

Unlike tests/query, the query service here needs NATS (replay asks ingest over
it), so it is started per test with the test's settings. The schema cache TTL
is short so a schema changed through GraphQL reaches ingest within the test.
"""

import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from config import Settings
from storage.projects import CreatedProject
from tests.query.servers import start_server, stop_server
from tests.query.tenant import Caller, create_organization, create_owned_project


@pytest.fixture
async def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"schema_cache_ttl_seconds": 0.2})


@pytest.fixture
async def query_url(settings: Settings) -> AsyncIterator[str]:
    server, task, url = await start_server(settings)
    try:
        yield url
    finally:
        await stop_server(server, task)


@pytest.fixture
async def caller(db: asyncpg.Connection, settings: Settings) -> Caller:
    """The ADMIN of a fresh organization."""
    return await create_organization(db, settings, f"Schemas {secrets.token_hex(3)}")


@pytest.fixture
async def project(db: asyncpg.Connection, caller: Caller) -> CreatedProject:
    return await create_owned_project(db, caller.organization_id, f"schemas-{secrets.token_hex(3)}")


@pytest.fixture
async def client(query_url: str, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=query_url, timeout=60, headers=caller.headers) as http:
        yield http
