"""The persons screens in a real browser: the list is the `persons` query's (a search narrows it), and a
person's journey shows their sessions newest first with each session's events in order, in the
project's timezone, as `personJourney` answers."""

import asyncio
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from tests.polling import eventually
from tests.webui.conftest import System
from tests.webui.journey import CHROME_USER_AGENT, PASSWORD, gql, new_email, set_up_tenant, shoot
from trackmint_sdk import Client

TIMEZONE = "Australia/Sydney"
PERSONS = """query($p: ID!, $search: String) {
  persons(projectId: $p, search: $search, first: 25) { edges { node { id distinctIds traits } } }
}"""
JOURNEY = """query($p: ID!, $id: ID!) {
  personJourney(projectId: $p, personId: $id, limit: 10) {
    sessions { id startedAt events { messageId event time } }
  }
}"""


async def set_up(http: httpx.AsyncClient, email: str) -> tuple[str, str, str]:
    """A new organization with a project in TIMEZONE and a write key."""
    return await set_up_tenant(http, email, "People Co", "App", TIMEZONE)


def send_history(system: System, key: str, today: datetime, now: datetime) -> int:
    """Three identified persons and one anonymous visitor over three days; returns the events sent."""
    def at(days: int, hour: int, minute: int) -> datetime:
        return (today + timedelta(days=days)).replace(hour=hour, minute=minute).astimezone(UTC)

    context = {"userAgent": CHROME_USER_AGENT}
    client = Client(key, system.ingest_endpoint)
    sent = 0
    try:
        # Ada: an anonymous visit two days ago, signs up (identify links the anonymous id), comes back today.
        client.page("Home", anonymous_id="anon-ada", url="https://app.example/", timestamp=at(-2, 9, 0),
                    context=context)
        client.page("Pricing", anonymous_id="anon-ada", url="https://app.example/pricing", timestamp=at(-2, 9, 3),
                    context=context)
        client.identify("ada", anonymous_id="anon-ada", timestamp=at(-2, 9, 5), context=context,
                        traits={"email": "ada@analytical.example", "name": "Ada Lovelace", "plan": "pro"})
        client.track("Signed Up", user_id="ada", timestamp=at(-2, 9, 6), context=context,
                     properties={"plan": "pro", "coupon": "ENGINE-42"})
        client.page("Dashboard", user_id="ada", url="https://app.example/dashboard",
                    timestamp=now - timedelta(minutes=8), context=context)
        client.track("Report Exported", user_id="ada", timestamp=now - timedelta(minutes=6), context=context,
                     properties={"format": "csv", "rows": 1843})
        sent += 6
        for user, name, days in (("grace", "Grace Hopper", -1), ("linus", "Linus T", -1)):
            client.identify(user, traits={"email": f"{user}@example.com", "name": name}, timestamp=at(days, 11, 0),
                            context=context)
            client.track("Signed Up", user_id=user, timestamp=at(days, 11, 1), context=context)
            sent += 2
        client.page("Blog", anonymous_id="anon-visitor", url="https://app.example/blog", timestamp=at(-1, 15, 0),
                    context=context)
        sent += 1
        assert client.flush(30)
    finally:
        client.close()
    assert client.stats.acked == sent
    return sent


async def log_in(page: Page, url: str, email: str, path: str) -> None:
    await page.goto(url + path)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(re.escape(path) + "$"))


async def test_persons_list_search_and_journey_match_the_api(page: Page, system: System, screenshots: Path) -> None:
    zone = ZoneInfo(TIMEZONE)
    now = datetime.now(UTC)
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    email = new_email()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        token, project_id, key = await set_up(http, email)
        await asyncio.to_thread(send_history, system, key, today, now)

        async def persons(search: str | None = None) -> list[dict]:
            data = await gql(http, PERSONS, token, p=project_id, search=search)
            return [edge["node"] for edge in data["persons"]["edges"]]

        listed = await eventually(persons, lambda found: len(found) == 4)
        assert len(listed) == 4
        ada = next(p for p in listed if "ada" in p["distinctIds"])
        assert sorted(ada["distinctIds"]) == ["ada", "anon-ada"]

        async def journey() -> list[dict]:
            return (await gql(http, JOURNEY, token, p=project_id, id=ada["id"]))["personJourney"]["sessions"]

        sessions = await eventually(journey, lambda found: sum(len(s["events"]) for s in found) == 6)
        assert len(sessions) == 2
        assert [e["event"] for e in sessions[1]["events"]] == ["$pageview", "$pageview", "$identify", "Signed Up"]

        await log_in(page, system.url, email, "/persons")
        table = page.get_by_test_id("persons-table")
        # The list is the API's, in its order.
        await expect(table.locator("tr[data-person-id]")).to_have_count(4)
        shown = [await row.get_attribute("data-person-id") for row in await table.locator("tr[data-person-id]").all()]
        assert shown == [p["id"] for p in listed]
        ada_row = table.locator(f'tr[data-person-id="{ada["id"]}"]')
        await expect(ada_row.get_by_role("link")).to_have_text("Ada Lovelace")
        await expect(ada_row).to_contain_text("anon-ada")
        await expect(ada_row).to_contain_text("email: ada@analytical.example")
        await expect(table.locator("tr", has_text="anon-visitor").get_by_text("anonymous")).to_be_visible()
        await shoot(page, screenshots, "persons")

        # Searching narrows the list to what the API finds for the same text.
        await page.get_by_label("Search persons").fill("hopper")
        found = await persons("hopper")
        assert len(found) == 1
        await expect(table.locator("tr[data-person-id]")).to_have_count(1)
        await expect(table.locator(f'tr[data-person-id="{found[0]["id"]}"]')).to_be_visible()
        await expect(page).to_have_url(re.compile(r"q=hopper"))
        # One click downloads the server's export of everyone the search finds.
        async with page.expect_download() as download:
            await page.get_by_role("button", name="Download CSV").click()
        exported_path = await (await download.value).path()
        exported = list(csv.DictReader(io.StringIO(await asyncio.to_thread(Path(exported_path).read_text))))
        assert [row["id"] for row in exported] == [found[0]["id"]]
        await page.get_by_label("Search persons").fill("nobody-like-this")
        await expect(page.get_by_text("Nobody matches")).to_be_visible()
        await page.get_by_label("Search persons").fill("ada")
        await expect(table.locator("tr[data-person-id]")).to_have_count(len(await persons("ada")))

        # Ada's journey: sessions newest first, each with its events in order, times in the project's zone.
        await ada_row.click()
        await expect(page).to_have_url(re.compile(rf"/persons/{ada['id']}$"))
        await expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
        await expect(page.get_by_test_id("person-distinct-ids")).to_contain_text("anon-ada")
        await expect(page.get_by_test_id("person-traits")).to_contain_text("pro")
        cards = page.locator("[data-session-id]")
        await expect(cards).to_have_count(len(sessions))
        assert [await c.get_attribute("data-session-id") for c in await cards.all()] == [s["id"] for s in sessions]
        for session in sessions:
            card = page.locator(f'[data-session-id="{session["id"]}"]')
            events = card.locator("li[data-message-id]")
            await expect(events).to_have_count(len(session["events"]))
            assert [await e.get_attribute("data-message-id") for e in await events.all()] == [
                e["messageId"] for e in session["events"]]
            for event in session["events"]:
                local = datetime.fromisoformat(event["time"]).astimezone(zone).strftime("%H:%M:%S")
                await expect(card.locator(f'li[data-message-id="{event["messageId"]}"] time')).to_have_text(local)
        older = page.locator(f'[data-session-id="{sessions[1]["id"]}"]')
        await expect(older.get_by_test_id("journey-event-name")).to_have_text(
            ["$pageview", "$pageview", "$identify", "Signed Up"])

        # Event properties expand.
        signed_up = older.locator('li[data-event="Signed Up"]')
        await expect(signed_up.get_by_text("ENGINE-42")).to_be_hidden()
        await signed_up.locator("summary").click()
        await expect(signed_up.get_by_text('"coupon": "ENGINE-42"')).to_be_visible()
        await shoot(page, screenshots, "person-journey")

        await page.get_by_role("radio", name="Dark theme").click()
        await shoot(page, screenshots, "person-journey-dark")
        await page.get_by_role("link", name="← All persons").click()
        await expect(table.locator("tr[data-person-id]")).to_have_count(4)
        await shoot(page, screenshots, "persons-dark")


async def test_a_persons_data_is_exported_and_the_person_erased_from_their_page(
    page: Page, system: System, screenshots: Path
) -> None:
    zone = ZoneInfo(TIMEZONE)
    now = datetime.now(UTC)
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    email = new_email()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        token, project_id, key = await set_up(http, email)
        sent = await asyncio.to_thread(send_history, system, key, today, now)

        async def persons() -> list[dict]:
            return [edge["node"] for edge in (await gql(http, PERSONS, token, p=project_id))["persons"]["edges"]]

        listed = await eventually(persons, lambda found: len(found) == 4)
        ada = next(p for p in listed if "ada" in p["distinctIds"])
        await eventually(lambda: gql(http, JOURNEY, token, p=project_id, id=ada["id"]),
                         lambda data: sum(len(s["events"]) for s in data["personJourney"]["sessions"]) == 6)

        await log_in(page, system.url, email, f"/persons/{ada['id']}")
        card = page.get_by_role("region", name="Personal data")
        # One click saves everything about Ada: the person, then sessions, then her six events.
        async with page.expect_download() as download:
            await card.get_by_role("button", name="Export data (JSON Lines)").click()
        saved = await download.value
        assert saved.suggested_filename == f"person-{ada['id']}.ndjson"
        lines = (await asyncio.to_thread(Path(await saved.path()).read_text)).splitlines()
        records = [json.loads(line) for line in lines]
        assert records[0]["record"] == "person" and sorted(records[0]["distinctIds"]) == ["ada", "anon-ada"]
        assert [r["record"] for r in records].count("event") == 6

        # Erasing asks for a typed confirmation, then lands on the list with what was deleted.
        await card.get_by_role("button", name="Erase person…").click()
        erase = card.get_by_role("button", name="Erase for good")
        await expect(erase).to_be_disabled()
        await card.get_by_label("Type erase to confirm").fill("erase")
        await shoot(page, screenshots, "person-erase")
        await erase.click()
        await expect(page).to_have_url(re.compile(r"/persons$"))
        await expect(page.get_by_text("Ada Lovelace was erased: 6 events and 2 sessions deleted.")).to_be_visible()
        table = page.get_by_test_id("persons-table")
        await expect(table.locator("tr[data-person-id]")).to_have_count(3)
        await expect(table.locator(f'tr[data-person-id="{ada["id"]}"]')).to_have_count(0)
        assert len(await persons()) == 3
        answer = (await http.post("/graphql", headers={"authorization": f"Bearer {token}"}, json={
            "query": "query($p: ID!, $id: ID!) { person(projectId: $p, id: $id) { id } }",
            "variables": {"p": project_id, "id": ada["id"]}})).json()
        assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        remaining = await http.post("/graphql", headers={"authorization": f"Bearer {token}"}, json={
            "query": "query($p: ID!) { events(projectId: $p, first: 50) { edges { node { distinctId } } } }",
            "variables": {"p": project_id}})
        distinct = [edge["node"]["distinctId"] for edge in remaining.json()["data"]["events"]["edges"]]
        assert len(distinct) == sent - 6 and not {"ada", "anon-ada"} & set(distinct)
