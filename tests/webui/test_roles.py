"""What a VIEWER sees: analytics, but no API keys in the navigation, and the API refuses them keys."""

import re
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, new_email, shoot

PAYLOAD = "accessToken refreshToken user { role }"


async def gql(http: httpx.AsyncClient, query: str, token: str | None = None, **variables: object) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    return response.json()


async def test_a_viewer_has_no_api_keys_navigation_and_cannot_create_keys(
    page: Page, system: System, screenshots: Path
) -> None:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        registered = await gql(
            http, f"mutation($i: RegisterInput!) {{ register(input: $i) {{ {PAYLOAD} }} }}",
            i={"orgName": "Viewers Inc", "email": new_email(), "password": PASSWORD, "name": "Owner"},
        )
        admin = registered["data"]["register"]["accessToken"]
        project = await gql(http, 'mutation { createProject(name: "Shop", timezone: "UTC") { id } }', admin)
        project_id = project["data"]["createProject"]["id"]
        viewer_email = new_email("viewer")
        invitation = await gql(http, "mutation($e: String!) { inviteMember(email: $e, role: VIEWER) { token } }",
                               admin, e=viewer_email)
        accepted = await gql(
            http, f"mutation($t: String!, $p: String!) {{ acceptInvitation(token: $t, name: \"Vera\", password: $p) "
            f"{{ {PAYLOAD} }} }}",
            t=invitation["data"]["inviteMember"]["token"], p=PASSWORD,
        )
        viewer = accepted["data"]["acceptInvitation"]
        assert viewer["user"]["role"] == "VIEWER"

        refused = await gql(http, 'mutation($p: ID!) { createApiKey(projectId: $p, label: "mine") { key } }',
                            viewer["accessToken"], p=project_id)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    await page.goto(system.url + "/api-keys")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fapi-keys$"))
    await page.get_by_label("Email").fill(viewer_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()

    # Back where they were headed, which their role cannot use: told so, with no key form.
    await expect(page.get_by_text("Not available for your role")).to_be_visible()
    await expect(page.get_by_role("form", name="Create API key")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Overview")).to_be_visible()
    await expect(nav.get_by_role("link", name="Live events")).to_be_visible()
    await expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
    assert await nav.locator("[data-section=api_keys]").count() == 0
    await expect(page.get_by_test_id("user-role")).to_have_text("viewer")

    # A viewer may see the projects, but not create one.
    await nav.get_by_role("link", name="Projects").click()
    await expect(page.get_by_role("table", name="Projects").get_by_text("Shop")).to_be_visible()
    await expect(page.get_by_role("form", name="Create project")).to_have_count(0)
    await shoot(page, screenshots, "08-viewer-projects")

    # A reload keeps the session (the refresh token in localStorage is swapped for a new pair).
    await page.reload()
    await expect(page.get_by_test_id("user-role")).to_have_text("viewer")

    # A refresh token the server refuses ends the session cleanly: back to the login screen.
    await page.evaluate("localStorage.setItem('trackmint.refreshToken', 'not-a-valid-token')")
    await page.reload()
    await expect(page).to_have_url(re.compile(r"/login"))
    await expect(page.get_by_text("Your session has ended")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('trackmint.refreshToken')") is None
