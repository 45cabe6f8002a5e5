"""The funnels screen in a real browser: a 3-step funnel built on events sent with the SDK shows the
persons and conversions the `funnel` query answers for the same arguments, its drop-offs list the
persons who stopped at a step (linking to their journeys), and a new event moves it without a reload."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
from playwright.async_api import Page, expect

from tests.polling import eventually
from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, gql, new_email, shoot
from trackmint_sdk import Client

VIEWED, ADDED, CHECKED_OUT = "Viewed Product", "Added To Cart", "Checked Out"
STEPS = [{"event": VIEWED}, {"event": ADDED}, {"event": CHECKED_OUT}]

FUNNEL = """query($p: ID!, $steps: [FunnelStepInput!]!, $from: DateTime!, $to: DateTime!, $mode: FunnelMode!,
              $breakdown: BreakdownInput) {
  funnel(projectId: $p, steps: $steps, dateRange: {from: $from, to: $to}, mode: $mode, breakdown: $breakdown) {
    steps { event persons conversionFromStart conversionFromPrevious }
    breakdownGroups { breakdownValue isOther steps { event persons conversionFromStart conversionFromPrevious } }
  }
}"""
DROPOFFS = """query($p: ID!, $steps: [FunnelStepInput!]!, $from: DateTime!, $to: DateTime!, $step: Int!) {
  funnelDropoffs(projectId: $p, steps: $steps, dateRange: {from: $from, to: $to}, step: $step) {
    persons { personId distinctIds }
  }
}"""


def send(system: System, key: str, calls: list[tuple[str, str, datetime, str]]) -> None:
    client = Client(key, system.ingest_endpoint)
    try:
        for event, user, timestamp, device in calls:
            client.track(event, user_id=user, timestamp=timestamp, properties={"device": device})
        assert client.flush(30)
    finally:
        client.close()
    assert client.stats.acked == len(calls)


def step_rows(funnel: dict) -> list[tuple[int, str, float, float, float]]:
    return [
        (i + 1, s["event"], float(s["persons"]), float(s["conversionFromStart"]), float(s["conversionFromPrevious"]))
        for i, s in enumerate(funnel["steps"])
    ]


async def ui_step_rows(page: Page) -> list[tuple[int, str, float, float, float]]:
    """The "All" rows of the funnel chart's data table: (step, event, persons, from start, from previous)."""
    rows = await page.evaluate(
        """() => [...document.querySelectorAll('[data-chart="funnel"] [data-testid=chart-data] tbody tr')]
            .map((row) => [...row.cells].map((cell) => cell.textContent))"""
    )
    return [(int(r[1]), r[2], float(r[3]), float(r[4]), float(r[5])) for r in rows if r[0] == "All"]


async def test_a_funnel_built_in_the_browser_matches_the_api_with_its_dropoffs(
    page: Page, system: System, screenshots: Path
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)

    def at(minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    # Step 1 (viewed): u1, u2, u3, u4, u5, u7 -> 6. Step 2 (added after viewing): u1, u2, u3 -> 3.
    # Step 3: u1 -> 1. u6 never viewed (not in the funnel); u7 checked out without adding (stops at 1);
    # u3 searched between viewing and adding (a STRICT funnel stops them at step 1).
    calls = [
        (VIEWED, "u1", at(0), "mobile"), (ADDED, "u1", at(2), "mobile"), (CHECKED_OUT, "u1", at(5), "mobile"),
        (VIEWED, "u2", at(1), "desktop"), (ADDED, "u2", at(4), "desktop"),
        (VIEWED, "u3", at(1), "mobile"), ("Searched", "u3", at(5), "mobile"), (ADDED, "u3", at(9), "mobile"),
        (VIEWED, "u4", at(3), "desktop"), (VIEWED, "u5", at(3), "desktop"),
        (ADDED, "u6", at(2), "mobile"), (CHECKED_OUT, "u6", at(3), "mobile"),
        (VIEWED, "u7", at(6), "mobile"), (CHECKED_OUT, "u7", at(8), "mobile"),
    ]
    email = new_email()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        registered = await gql(http, "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
                               i={"orgName": "Checkout Co", "email": email, "password": PASSWORD, "name": "Ada"})
        token = registered["register"]["accessToken"]
        project = await gql(http, 'mutation { createProject(name: "Shop", timezone: "Europe/Berlin") { id } }', token)
        project_id = project["createProject"]["id"]
        created = await gql(http, 'mutation($p: ID!) { createApiKey(projectId: $p, label: "sdk") { key } }', token,
                            p=project_id)
        await asyncio.to_thread(send, system, key := created["createApiKey"]["key"], calls)

        await page.goto(system.url + "/funnels")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Funnels")).to_be_visible()
        await expect(page.get_by_text("Pick the event of step 1.")).to_be_visible()
        await page.evaluate("window.__sameDocument = true")

        # The range the page asks for (its default preset), to ask the API the same.
        root = page.locator("[data-range-from]")
        date_range = {
            "from": await root.get_attribute("data-range-from"), "to": await root.get_attribute("data-range-to"),
        }

        async def answer(mode: str = "ORDERED", breakdown: dict | None = None) -> dict:
            return (await gql(http, FUNNEL, token, p=project_id, steps=STEPS, mode=mode, breakdown=breakdown,
                              **date_range))["funnel"]

        # Independently of the API: 6 viewed, 3 then added, 1 then checked out.
        expected = await eventually(answer, lambda f: [s["persons"] for s in f["steps"]] == [6, 3, 1])
        assert [s["persons"] for s in expected["steps"]] == [6, 3, 1]

        # Build it in the wrong order, then move a step up; then add the third step.
        await page.get_by_label("Event of step 1").select_option(ADDED)
        await page.get_by_label("Event of step 2").select_option(VIEWED)
        await page.get_by_role("button", name="Move step 2 up").click()
        await expect(page.get_by_label("Event of step 1")).to_have_value(VIEWED)
        await page.get_by_role("button", name="+ Add step").click()
        await page.get_by_label("Event of step 3").select_option(CHECKED_OUT)

        want = step_rows(expected)
        assert await eventually(lambda: ui_step_rows(page), lambda rows: rows == want) == want
        table = page.get_by_test_id("funnel-steps")
        await expect(table.get_by_test_id("step-persons")).to_have_text(["6", "3", "1"])
        await expect(table.get_by_test_id("step-from-start")).to_have_text(["100.0%", "50.0%", "16.7%"])
        await expect(page.get_by_test_id("funnel-conversion-value")).to_have_text("16.7%")

        # Drop-offs of step 2: who viewed but never added, each linking to their journey.
        await page.get_by_role("button", name="Show the 3 persons who dropped off before step 2").click()
        dropoffs = page.get_by_test_id("dropoffs")
        await expect(dropoffs.get_by_test_id("dropoff-person")).to_have_count(3)
        api_dropoffs = (await gql(http, DROPOFFS, token, p=project_id, steps=STEPS, step=2, **date_range))
        persons = api_dropoffs["funnelDropoffs"]["persons"]
        assert sorted(d for p in persons for d in p["distinctIds"]) == ["u4", "u5", "u7"]
        assert sorted(await dropoffs.get_by_test_id("dropoff-distinct-ids").all_text_contents()) == ["u4", "u5", "u7"]
        links = await dropoffs.get_by_role("link").evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
        assert sorted(links) == sorted(f"/persons/{p['personId']}" for p in persons)
        await page.wait_for_timeout(500)  # let the chart's animation finish for the picture
        await shoot(page, screenshots, "funnel")

        # A dropped-off person adds to the cart now: the funnel and the drop-offs follow without a reload.
        await asyncio.to_thread(send, system, key, [(ADDED, "u4", datetime.now(UTC), "desktop")])
        await expect(table.get_by_test_id("step-persons")).to_have_text(["6", "4", "1"], timeout=20_000)
        await expect(dropoffs.get_by_test_id("dropoff-person")).to_have_count(2)
        assert sorted(await dropoffs.get_by_test_id("dropoff-distinct-ids").all_text_contents()) == ["u5", "u7"]
        assert step_rows(await answer()) == await ui_step_rows(page)
        assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"

        # STRICT: u3's search between viewing and adding stops them at step 1 (4 -> 3 at step 2).
        await page.get_by_role("group", name="Step order").get_by_role("button", name="Strict").click()
        strict = step_rows(await answer("STRICT"))
        assert [row[2] for row in strict] == [6, 3, 1]
        assert await eventually(lambda: ui_step_rows(page), lambda rows: rows == strict) == strict

        # A breakdown by the device of step 1: one group per value, as the API answers.
        await page.get_by_role("group", name="Step order").get_by_role("button", name="Ordered").click()
        await page.get_by_label("Breakdown by").fill("device")
        await page.get_by_label("Breakdown by").press("Enter")
        broken_down = await answer(breakdown={"key": "device", "type": "EVENT"})
        groups = page.get_by_test_id("funnel-breakdown").locator("tbody tr")
        await expect(groups).to_have_count(len(broken_down["breakdownGroups"]))
        for group in broken_down["breakdownGroups"]:
            row = groups.filter(has=page.get_by_role("cell", name=group["breakdownValue"], exact=True))
            await expect(row.locator("td.numeric").first).to_have_text(str(group["steps"][0]["persons"]))

        # The funnel is in the URL: a reload rebuilds it.
        query = parse_qs(urlparse(page.url).query)
        assert query["breakdown"] == ["device"]
        await page.reload()
        await expect(page.get_by_label("Event of step 3")).to_have_value(CHECKED_OUT)
        await expect(page.get_by_test_id("funnel-steps").get_by_test_id("step-persons")).to_have_text(["6", "4", "1"])

        await page.get_by_role("radio", name="Dark theme").click()
        await expect(page.locator('[data-chart="funnel"] canvas')).to_be_visible()
        await page.wait_for_timeout(500)
        await shoot(page, screenshots, "funnel-dark")
