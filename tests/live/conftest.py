"""The whole system for subscriptions: ingest, processor, NATS and a real query service, with a tenant.

`live_settings` shortens the periodic access check so the tests of lost
access finish quickly; everything else is the test's usual settings (its own
NATS namespace, the session's database).
"""

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from config import Settings
from storage.projects import CreatedProject
from tests.live.ws_client import bearer, error_codes_of, graphql_websocket
from tests.query.servers import start_server, stop_server
from tests.query.tenant import Caller, create_organization, create_owned_project

ACCESS_CHECK_SECONDS = 0.5


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"live_access_check_seconds": ACCESS_CHECK_SECONDS})


@pytest.fixture
async def caller(db: asyncpg.Connection, settings: Settings) -> Caller:
    """The ADMIN of a new organization, with an access token the test's query service accepts."""
    return await create_organization(db, settings, "Live")


@pytest.fixture
async def project(db: asyncpg.Connection, caller: Caller) -> CreatedProject:
    """A project of the caller's organization (overrides the suite-wide, organization-less one)."""
    return await create_owned_project(db, caller.organization_id, f"live-{secrets.token_hex(3)}")


@pytest.fixture
async def query_url(live_settings: Settings, jetstream, caller: Caller, project: CreatedProject) -> AsyncIterator[str]:
    """A real query service (uvicorn on a free port) whose live hub is subscribed to the test's namespace."""
    server, task, url = await start_server(live_settings)
    try:
        await wait_until_live(url, caller, project)
        yield url
    finally:
        await stop_server(server, task)


@pytest.fixture
async def graphql(query_url: str, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=query_url, timeout=30, headers=caller.headers) as http:
        yield http


PROBE = "subscription($p: ID!) { liveEvents(projectId: $p) { missed } }"


async def wait_until_live(url: str, caller: Caller, project: CreatedProject, within: float = 10) -> None:
    """The hub connects in the background; until then a subscription is refused with UNAVAILABLE."""
    async with asyncio.timeout(within):
        while True:
            async with graphql_websocket(url, bearer(caller.access_token)) as ws:
                await ws.subscribe(PROBE, p=str(project.project_id))
                try:
                    message = await ws.receive(0.3)
                except TimeoutError:
                    return  # subscribed and waiting for events: live
                assert error_codes_of(message) == ["UNAVAILABLE"], message
            await asyncio.sleep(0.05)
