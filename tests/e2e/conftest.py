"""Whole-system fixtures: the query service next to ingest and processor.

Journeys run as the ADMIN of one organization (`caller`), which owns the test's `project`,
so `graphql` reads that project's analytics as a tenant would.
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
async def caller(db: asyncpg.Connection, settings: Settings) -> Caller:
    """The ADMIN of a new organization, with an access token the test's query service accepts."""
    return await create_organization(db, settings, "Journeys")


@pytest.fixture
async def project(db: asyncpg.Connection, caller: Caller) -> CreatedProject:
    """A project of the caller's organization (overrides the suite-wide, organization-less one)."""
    return await create_owned_project(db, caller.organization_id, f"test-{secrets.token_hex(3)}")


@pytest.fixture
async def graphql(settings: Settings, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client, authenticated as `caller`, for a real query service over the test database."""
    server, task, url = await start_server(settings)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=caller.headers) as http:
            yield http
    finally:
        await stop_server(server, task)
