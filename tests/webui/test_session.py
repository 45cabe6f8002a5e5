"""Short-lived access tokens: the UI refreshes them with the refresh token and its subscriptions
carry on under the new token, without a reload or a new login."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Page, Route, expect

from config import Settings
from ingest.server import IngestServer
from processor.service import ProcessorService
from tests.query.servers import start_server, stop_server
from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, new_email
from trackmint_sdk import Client

ACCESS_TOKEN_SECONDS = 10


@pytest.fixture
async def short_token_system(
    webui_dist, settings: Settings, ingest_server: IngestServer, processor: ProcessorService
) -> AsyncIterator[System]:
    """The system, with access tokens that expire after 10 s and subscriptions re-checked every 0.5 s."""
    server, task, url = await start_server(settings.model_copy(update={
        "access_token_ttl_seconds": ACCESS_TOKEN_SECONDS, "live_access_check_seconds": 0.5,
    }))
    try:
        yield System(url=url, ingest_endpoint=f"127.0.0.1:{ingest_server.port}")
    finally:
        await stop_server(server, task)


async def _gql(http: httpx.AsyncClient, query: str, token: str | None = None, **variables: object) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = (await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert "errors" not in body, body
    return body["data"]


def _send(endpoint: str, key: str, count: int) -> None:
    client = Client(key, endpoint)
    try:
        for index in range(count):
            client.track("Signed Up", user_id=f"user-{index}")
        assert client.flush(30)
    finally:
        client.close()


async def test_expired_access_tokens_are_refreshed_and_live_updates_continue(
    page: Page, short_token_system: System
) -> None:
    system = short_token_system
    email = new_email()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        data = await _gql(http, "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
                          i={"orgName": "Refreshers", "email": email, "password": PASSWORD, "name": ""})
        token = data["register"]["accessToken"]
        project = await _gql(http, 'mutation { createProject(name: "App") { id } }', token)
        created = await _gql(http, 'mutation($p: ID!) { createApiKey(projectId: $p, label: "k") { key } }',
                             token, p=project["createProject"]["id"])
    key = created["createApiKey"]["key"]

    await page.goto(system.url + "/overview")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_test_id("kpi-events-value")).to_have_text("0")
    first_refresh_token = await page.evaluate("localStorage.getItem('trackmint.refreshToken')")
    await page.evaluate("window.__sameDocument = true")

    # The access token expires; the server ends the open subscriptions as UNAUTHENTICATED.
    await asyncio.sleep(ACCESS_TOKEN_SECONDS + 1)
    await asyncio.to_thread(_send, system.ingest_endpoint, key, 3)

    await expect(page.get_by_test_id("kpi-events-value")).to_have_text("3", timeout=20_000)
    await expect(page.get_by_test_id("kpi-live-value")).to_have_text("3")
    assert await page.evaluate("localStorage.getItem('trackmint.refreshToken')") != first_refresh_token
    await expect(page.get_by_test_id("user-role")).to_have_text("admin")
    assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"


async def test_two_tabs_refreshing_at_the_same_moment_both_stay_signed_in(
    page: Page, system: System
) -> None:
    # Refresh tokens work once, and presenting a used one ends the whole session: two tabs must not both
    # swap the same stored token.
    email = new_email()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        data = await _gql(http, "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
                          i={"orgName": "Two tabs", "email": email, "password": PASSWORD, "name": ""})
        await _gql(http, 'mutation { createProject(name: "App") { id } }', data["register"]["accessToken"])
    await page.goto(system.url + "/overview")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_test_id("kpi-events-value")).to_have_text("0")
    other = await page.context.new_page()
    await other.goto(system.url + "/overview")
    await expect(other.get_by_test_id("kpi-events-value")).to_have_text("0")

    async def slow_refresh(route: Route) -> None:
        # Both tabs read the stored token before either answer arrives, unless they take turns.
        if "refreshToken(" in (route.request.post_data or ""):
            await asyncio.sleep(0.5)
        await route.continue_()

    await page.context.route("**/graphql", slow_refresh)
    # A reload swaps the stored refresh token for a new session: both tabs at once.
    await asyncio.gather(page.reload(), other.reload())

    for tab in (page, other):
        await expect(tab.get_by_test_id("kpi-events-value")).to_have_text("0", timeout=10_000)
    await other.reload()
    await expect(other.get_by_test_id("kpi-events-value")).to_have_text("0", timeout=10_000)
