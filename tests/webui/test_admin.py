"""The admin screens in a real browser: members and invitations (and what each role then sees and may
do), project settings, and event definitions with schemas, rejected events and their replay."""

import asyncio
import json
import re
import secrets
import time
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from config import Settings
from tests.polling import eventually
from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, new_email, shoot
from trackmint_sdk import Client

PAYLOAD = "accessToken refreshToken user { id role }"
SCHEMA_CACHE_TTL = 0.5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Ingest re-reads a project's schemas every half second, so a schema saved in the UI applies at once."""
    return settings.model_copy(update={"schema_cache_ttl_seconds": SCHEMA_CACHE_TTL})


async def until_ingest_rereads_schemas(saved_at: float) -> None:
    """Ingest last loaded the schemas before `saved_at` (when one was saved); its cache is stale a TTL later."""
    await asyncio.sleep(max(0.0, saved_at + SCHEMA_CACHE_TTL + 0.1 - time.monotonic()))


async def gql(http: httpx.AsyncClient, query: str, token: str | None = None, **variables: object) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    return response.json()


async def register(http: httpx.AsyncClient, organization: str) -> tuple[str, str, str]:
    """A new organization with its ADMIN and a project in UTC: (admin email, access token, project id)."""
    email = new_email()
    registered = await gql(http, f"mutation($i: RegisterInput!) {{ register(input: $i) {{ {PAYLOAD} }} }}",
                           i={"orgName": organization, "email": email, "password": PASSWORD, "name": "Ada Admin"})
    token = registered["data"]["register"]["accessToken"]
    project = await gql(http, 'mutation { createProject(name: "Shop", timezone: "UTC") { id } }', token)
    return email, token, project["data"]["createProject"]["id"]


async def log_in(page: Page, url: str, email: str, path: str = "/") -> None:
    await page.goto(url + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    if path != "/":
        await page.goto(url + path)


async def api_login(http: httpx.AsyncClient, email: str) -> str:
    answer = await gql(http, f"mutation($e: String!, $p: String!) {{ login(email: $e, password: $p) {{ {PAYLOAD} }} }}",
                       e=email, p=PASSWORD)
    return answer["data"]["login"]["accessToken"]


def nav_sections(page: Page):
    return page.get_by_role("navigation", name="Main").locator("[data-section]")


async def sections(page: Page) -> list[str]:
    return [await link.get_attribute("data-section") for link in await nav_sections(page).all()]


async def test_an_admin_invites_a_viewer_then_makes_them_a_developer(
    page: Page, chromium: Browser, system: System, screenshots: Path
) -> None:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        admin_email, admin_token, _ = await register(http, "Members Inc")
        await log_in(page, system.url, admin_email)
        nav = page.get_by_role("navigation", name="Main")
        assert {"members", "settings", "events", "api_keys"} <= set(await sections(page))
        await nav.get_by_role("link", name="Members").click()
        await expect(page.locator(f'tr[data-member="{admin_email}"]').get_by_text("you", exact=True)).to_be_visible()

        # Invite by email as VIEWER: the accept link (with its one-time token) is shown once.
        member_email = new_email("member")
        form = page.get_by_role("form", name="Invite member")
        await form.get_by_label("Email").fill(member_email)
        await form.get_by_label("Role").select_option("VIEWER")
        await form.get_by_role("button", name="Invite").click()
        link = (await page.get_by_test_id("invitation-link").text_content() or "").strip()
        assert re.fullmatch(rf"{re.escape(system.url)}/accept-invitation\?token=\S+", link), link
        await expect(page.locator(f'tr[data-invitation="{member_email}"]')).to_be_visible()
        await shoot(page, screenshots, "members")

        # The invitee opens the link in a browser of their own and joins.
        member_context = await chromium.new_context(viewport={"width": 1440, "height": 900}, color_scheme="dark")
        member_context.set_default_timeout(15_000)
        try:
            member = await member_context.new_page()
            await member.goto(link)
            await expect(member.get_by_role("heading", name="Join your team")).to_be_visible()
            await shoot(member, screenshots, "accept-invitation-dark")
            await member.get_by_label("Your name").fill("Vera Viewer")
            await member.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
            await member.get_by_label("Repeat password").fill(PASSWORD)
            await member.get_by_role("button", name="Join and sign in").click()
            await expect(member.get_by_test_id("user-role")).to_have_text("viewer")
            # Analytics only: no members, keys, settings or definitions in the navigation.
            member_nav = member.get_by_role("navigation", name="Main")
            await expect(member_nav.get_by_role("link", name="Overview")).to_be_visible()
            assert not {"members", "api_keys", "settings", "events"} & set(await sections(member))
            await member.goto(system.url + "/members")
            await expect(member.get_by_text("Not available for your role")).to_be_visible()

            # The API refuses them what the navigation hides.
            viewer_token = await api_login(http, member_email)
            refused = await gql(http, 'mutation { inviteMember(email: "x@example.com", role: ADMIN) { token } }',
                                viewer_token)
            assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            refused = await gql(http, "{ members { id } }", viewer_token)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

            # The admin sees them join, and makes them a DEVELOPER.
            await page.get_by_role("button", name="Refresh").click()
            row = page.locator(f'tr[data-member="{member_email}"]')
            await expect(row.get_by_text("Vera Viewer")).to_be_visible()
            await expect(page.locator(f'tr[data-invitation="{member_email}"]')).to_have_count(0)
            await row.get_by_label(f"Role of {member_email}").select_option("DEVELOPER")
            await expect(row.get_by_label(f"Role of {member_email}")).to_have_value("DEVELOPER")
            members = await gql(http, "{ members { email role } }", admin_token)
            assert {"email": member_email, "role": "DEVELOPER"} in members["data"]["members"]

            # The role change ended the member's sessions: after a reload they log in again and see keys.
            await member.reload()
            await expect(member).to_have_url(re.compile(r"/login"))
            await log_in(member, system.url, member_email)
            await expect(member.get_by_test_id("user-role")).to_have_text("developer")
            member_sections = set(await sections(member))
            assert {"api_keys", "settings", "events"} <= member_sections and "members" not in member_sections
            await expect(member_nav.get_by_role("link", name="API keys")).to_be_visible()
        finally:
            await member_context.close()

        # Removing a member: gone from the table and from the API.
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await row.get_by_role("button", name=f"Remove {member_email}").click()
        await expect(row).to_have_count(0)
        members = await gql(http, "{ members { email } }", admin_token)
        assert member_email not in [m["email"] for m in members["data"]["members"]]

        await page.get_by_role("radio", name="Dark theme").click()
        await shoot(page, screenshots, "members-dark")

    # An invitation opened where someone is signed in shows its form, saying who is signed in.
    await page.goto(system.url + "/accept-invitation?token=" + secrets.token_urlsafe(16))
    await expect(page.get_by_role("form", name="Accept invitation")).to_be_visible()
    await expect(page.get_by_test_id("signed-in-note")).to_contain_text("You are signed in as")
    await page.goto(system.url + "/overview")

    # A used or made-up token is refused with a clear message.
    await page.get_by_role("button", name="Log out").click()
    await page.goto(system.url + "/accept-invitation?token=" + secrets.token_urlsafe(16))
    await page.get_by_label("Your name").fill("Mallory")
    await page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    await page.get_by_label("Repeat password").fill(PASSWORD)
    await page.get_by_role("button", name="Join and sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("invalid, already used or expired")
    await page.get_by_role("radio", name="Light theme").click()
    await shoot(page, screenshots, "accept-invitation")


PROJECT_SETTINGS = "{ projects { id name timezone allowedOrigins autocapture { clicks forms } storeIp } }"


async def test_project_settings_change_the_timezone_and_browser_options(
    page: Page, system: System, screenshots: Path
) -> None:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        admin_email, admin_token, project_id = await register(http, "Settings Inc")
        await log_in(page, system.url, admin_email)
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()

        general = page.get_by_role("form", name="Project settings")
        timezone = general.get_by_label("Timezone")
        await expect(timezone).to_have_value("UTC")
        await timezone.fill("Mars/Olympus")
        await general.get_by_role("button", name="Save project").click()
        await expect(general.get_by_role("alert")).to_contain_text("unknown timezone 'Mars/Olympus'")

        await timezone.fill("Asia/Tokyo")
        await general.get_by_role("button", name="Save project").click()
        await expect(general.get_by_role("status")).to_have_text("Saved")
        await expect(general.get_by_role("alert")).to_have_count(0)
        projects = await gql(http, PROJECT_SETTINGS, admin_token)
        assert projects["data"]["projects"][0]["timezone"] == "Asia/Tokyo"

        browser = page.get_by_role("form", name="Browser settings")
        await browser.get_by_label("Allowed origins").fill("https://shop.example\nhttps://*.example.com")
        await browser.get_by_role("checkbox", name=re.compile("^Clicks")).check()
        await browser.get_by_role("checkbox", name=re.compile("^Store IP")).check()
        await browser.get_by_role("button", name="Save browser settings").click()
        await expect(browser.get_by_role("status")).to_have_text("Saved")
        saved = (await gql(http, PROJECT_SETTINGS, admin_token))["data"]["projects"][0]
        assert saved["allowedOrigins"] == ["https://shop.example", "https://*.example.com"]
        assert saved["autocapture"] == {"clicks": True, "forms": False} and saved["storeIp"] is True

        await browser.get_by_label("Allowed origins").fill("not a url")
        await browser.get_by_role("button", name="Save browser settings").click()
        await expect(browser.get_by_role("alert")).to_be_visible()

        # The snippet to paste, with a write key typed in.
        await page.get_by_role("region", name="Browser snippet").get_by_label("Write key").fill("tm_live_example")
        snippet = await page.get_by_test_id("snippet").text_content() or ""
        assert 'trackmint.push(["init", "tm_live_example"' in snippet and "/sdk/trackmint.js" in snippet
        await expect(page.get_by_role("region", name="Your account")).to_contain_text(admin_email)
        await browser.get_by_label("Allowed origins").fill("https://shop.example\nhttps://*.example.com")
        await browser.get_by_role("button", name="Save browser settings").click()
        await expect(browser.get_by_role("status")).to_have_text("Saved")
        await expect(browser.get_by_role("alert")).to_have_count(0)
        await shoot(page, screenshots, "settings")
        await page.get_by_role("radio", name="Dark theme").click()
        await shoot(page, screenshots, "settings-dark")

        # Deleting needs the project's name typed in.
        danger = page.get_by_role("form", name="Delete project")
        await expect(danger.get_by_role("button", name="Delete project")).to_be_disabled()
        await danger.get_by_label("Project name").fill("Shop")
        await danger.get_by_role("button", name="Delete project").click()
        await expect(page).to_have_url(re.compile(r"/projects$"))
        assert (await gql(http, PROJECT_SETTINGS, admin_token))["data"]["projects"] == []
        refused = await gql(http, "query($p: ID!) { eventSchemas(projectId: $p) { event } }", admin_token, p=project_id)
        assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"


DEFINITIONS = "query($p: ID!) { eventDefinitions(projectId: $p) { event volume properties { name type } } }"
REJECTED = "query($p: ID!) { rejectedEvents(projectId: $p) { edges { node { messageId code reason replayResult } } } }"


def send(system: System, key: str, calls: list[tuple[str, dict, str | None]]) -> Client:
    client = Client(key, system.ingest_endpoint)
    try:
        for event, properties, message_id in calls:
            client.track(event, user_id="ada", properties=properties, message_id=message_id)
        assert client.flush(30)
    finally:
        client.close()
    return client


async def test_definitions_list_events_and_a_schema_from_the_ui_rejects_bad_events(
    page: Page, system: System, screenshots: Path
) -> None:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        admin_email, admin_token, project_id = await register(http, "Schemas Inc")
        created = await gql(http, 'mutation($p: ID!) { createApiKey(projectId: $p, label: "backend") { key } }',
                            admin_token, p=project_id)
        key = created["data"]["createApiKey"]["key"]
        await asyncio.to_thread(send, system, key, [
            ("Order Completed", {"total": 99.9, "currency": "EUR", "gift": False}, None),
            ("Order Completed", {"total": 12, "currency": "USD", "gift": True}, None),
            ("Signed Up", {"plan": "pro", "referrer": None}, None),
        ])

        async def definitions() -> list[dict]:
            return (await gql(http, DEFINITIONS, admin_token, p=project_id))["data"]["eventDefinitions"]

        seen = await eventually(definitions, lambda found: sum(d["volume"] for d in found) == 3)
        await log_in(page, system.url, admin_email)
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Event definitions").click()

        # Every event name with its volume and its properties' types, as the API reports them.
        for definition in seen:
            row = page.locator(f'tr[data-event="{definition["event"]}"]')
            await expect(row.get_by_test_id("event-volume")).to_have_text(str(definition["volume"]))
            for prop in definition["properties"]:
                chip = row.locator(f'[data-property="{prop["name"]}"][data-type="{prop["type"]}"]')
                await expect(chip).to_contain_text(prop["type"])
        order = page.locator('tr[data-event="Order Completed"]')
        await expect(order.locator('[data-property="total"]')).to_have_attribute("data-type", "number")
        await expect(order.locator('[data-property="gift"]')).to_have_attribute("data-type", "boolean")
        await shoot(page, screenshots, "definitions")

        # A schema drafted from the observed properties, tightened by hand, saved in reject mode.
        await order.get_by_role("button", name="Add schema").click()
        editor = page.get_by_role("form", name="Event schema")
        await expect(editor.get_by_label("Event", exact=True)).to_have_value("Order Completed")
        drafted = json.loads(await editor.get_by_label("JSON Schema of the properties").input_value())
        assert drafted["properties"]["total"] == {"type": "number"}
        await editor.get_by_label("JSON Schema of the properties").fill("{not json")
        await editor.get_by_role("button", name="Save schema").click()
        await expect(editor.get_by_role("alert")).to_contain_text("not valid JSON")
        await editor.get_by_label("JSON Schema of the properties").fill(json.dumps(
            {**drafted, "required": ["total"]}, indent=2))
        await editor.get_by_label("Mode").select_option("REJECT")
        await editor.get_by_role("button", name="Save schema").click()
        await expect(editor.get_by_role("status")).to_contain_text("saved")
        saved_at = time.monotonic()
        schemas = await gql(http, "query($p: ID!) { eventSchemas(projectId: $p) { event mode jsonSchema } }",
                            admin_token, p=project_id)
        assert schemas["data"]["eventSchemas"] == [
            {"event": "Order Completed", "mode": "REJECT", "jsonSchema": {**drafted, "required": ["total"]}}]
        await page.locator('tr[data-schema="Order Completed"]').get_by_role("button", name="View").click()
        await expect(page.locator(".defs-pre")).to_contain_text('"required"')
        await shoot(page, screenshots, "definitions-schemas")

        # An event breaking it is refused by ingest, kept, and listed under Rejected.
        await until_ingest_rereads_schemas(saved_at)
        client = await asyncio.to_thread(send, system, key, [("Order Completed", {"total": "ninety"}, "bad-total-1")])
        assert client.stats.rejected == 1
        rejected = await eventually(lambda: gql(http, REJECTED, admin_token, p=project_id),
                                    lambda answer: len(answer["data"]["rejectedEvents"]["edges"]) == 1)
        node = rejected["data"]["rejectedEvents"]["edges"][0]["node"]
        assert node["code"] == "SCHEMA_VIOLATION" and node["messageId"] == "bad-total-1"
        await page.get_by_role("tab", name="Rejected").click()
        bad = page.locator('tr[data-message-id="bad-total-1"]')
        await expect(bad).to_contain_text("properties.total: must be number")
        await expect(bad).to_contain_text("not replayed")

        # Relax the schema (WARN), then replay: the event is stored once.
        await page.get_by_role("tab", name="Schemas").click()
        await page.locator('tr[data-schema="Order Completed"]').get_by_role("button", name="Edit").click()
        await editor.get_by_label("Mode").select_option("WARN")
        await editor.get_by_role("button", name="Save schema").click()
        await expect(page.locator('tr[data-schema="Order Completed"] [data-mode="WARN"]')).to_be_visible()
        await until_ingest_rereads_schemas(time.monotonic())
        await page.get_by_role("tab", name="Rejected").click()
        await bad.get_by_role("checkbox").check()
        await page.get_by_role("button", name="Replay selected (1)").click()
        await expect(page.get_by_test_id("replay-result")).to_contain_text("Replayed 1: 1 accepted, 0 still rejected")
        await expect(bad).to_contain_text("accepted")
        await eventually(definitions, lambda found: any(d["event"] == "Order Completed" and d["volume"] == 3
                                                        for d in found))
        await page.get_by_role("radio", name="Dark theme").click()
        await shoot(page, screenshots, "definitions-rejected-dark")
        await page.get_by_role("tab", name="Events").click()
        await page.get_by_role("button", name="Refresh").click()
        await expect(order.get_by_test_id("event-volume")).to_have_text("3")
        await expect(order.locator('[data-property="total"][data-type="string"]')).to_be_visible()
        await shoot(page, screenshots, "definitions-dark")
