"""Steps of the browser journeys, shared by the tests: signing up, creating a project and a key."""

import re
import secrets
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

PASSWORD = "correct horse battery staple"
CHROME_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def new_email(role: str = "admin") -> str:
    return f"{role}-{secrets.token_hex(4)}@example.com"


async def shoot(page: Page, screenshots: Path, name: str) -> None:
    """Save a full-page screenshot of the current screen as artifacts/screenshots/<name>.png."""
    await page.screenshot(path=screenshots / f"{name}.png", full_page=True, animations="disabled")


async def sign_up(page: Page, url: str, email: str, organization: str) -> None:
    await page.goto(url)
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.get_by_role("link", name="Create an account").click()
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await page.get_by_label("Your name").fill("Ada Admin")
    await page.get_by_label("Organization").fill(organization)
    await page.get_by_label("Work email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)


async def create_project(page: Page, name: str, timezone: str) -> None:
    form = page.get_by_role("form", name="Create project")
    await form.get_by_label("Name", exact=True).fill(name)
    await form.get_by_role("combobox", name="Timezone").select_option(timezone)
    await form.get_by_role("button", name="Create project").click()
    await expect(page.get_by_role("status").filter(has_text="created and selected")).to_be_visible()


async def create_key(page: Page, label: str) -> str:
    """Create a write key on the API keys screen; returns the secret the page shows once."""
    form = page.get_by_role("form", name="Create API key")
    await form.get_by_label("Label", exact=True).fill(label)
    await form.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key-secret")
    await expect(secret).to_have_text(re.compile(r"^tm_live_"))
    return (await secret.text_content() or "").strip()


async def gql(http: httpx.AsyncClient, query: str, token: str | None = None, **variables: object) -> dict:
    """The `data` of a GraphQL request that must succeed."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def set_up_tenant(
    http: httpx.AsyncClient, email: str, organization: str, project: str, timezone: str
) -> tuple[str, str, str]:
    """A new organization (its ADMIN registered over GraphQL) with a project and a write key:
    (access token, project id, key)."""
    registered = await gql(http, "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
                           i={"orgName": organization, "email": email, "password": PASSWORD, "name": "Ada"})
    token = registered["register"]["accessToken"]
    created = await gql(http, "mutation($n: String!, $tz: String!) { createProject(name: $n, timezone: $tz) { id } }",
                        token, n=project, tz=timezone)
    project_id = created["createProject"]["id"]
    key = await gql(http, 'mutation($p: ID!) { createApiKey(projectId: $p, label: "sdk") { key } }', token,
                    p=project_id)
    return token, project_id, key["createApiKey"]["key"]
