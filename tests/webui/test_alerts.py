"""Alerts in a real browser: a DEVELOPER adds a signed webhook channel (its secret shown once) and
sends a test notice a real local receiver verifies; builds a threshold rule whose backtest chart
shows exactly what `backtestAlert` answers; then the alerting engine, run in the test, fires on live
events: the unread badge appears without a reload, the notice is in the feed, the rule is FIRING,
and marking all read clears the badge. A VIEWER sees it all read-only and the API refuses them."""

import asyncio
import csv
import io
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn
from playwright.async_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerting.service import start_alerting
from alerting.signing import SIGNATURE_HEADER, verify
from config import Settings
from tests.polling import eventually
from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, new_email, shoot
from trackmint_sdk import Client

PAYLOAD = "accessToken user { role }"
BACKTEST = """query($p: ID!, $rule: AlertRuleInput!, $from: DateTime!, $to: DateTime!) {
  backtestAlert(projectId: $p, rule: $rule, dateRange: {from: $from, to: $to}) {
    firedAt points { bucket value firing } } }"""
RULE = {"name": "Signup burst", "interval": "MINUTE", "series": {"event": "signup", "math": "TOTAL"},
        "detector": {"kind": "THRESHOLD", "direction": "UP", "threshold": 3}}


@dataclass
class Receiver:
    url: str = ""
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A local HTTP server keeping every POST (as in tests/alerting/conftest.py)."""
    state = Receiver()

    async def receive(request: Request) -> Response:
        state.posts.append((request.url.path, dict(request.headers), await request.body()))
        return Response("ok")

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), bool, within=10)
    state.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await task


async def gql(http: httpx.AsyncClient, query: str, token: str, **variables: object) -> dict:
    response = await http.post("/graphql", json={"query": query, "variables": variables},
                               headers={"authorization": f"Bearer {token}"})
    return response.json()


async def data(http: httpx.AsyncClient, query: str, token: str, **variables: object) -> dict:
    body = await gql(http, query, token, **variables)
    assert not body.get("errors"), body
    return body["data"]


async def join(http: httpx.AsyncClient, admin: str, role: str) -> tuple[str, str]:
    """A member of the admin's organization with `role`: (email, access token)."""
    email = new_email(role.lower())
    invited = await data(http, "mutation($e: String!, $r: Role!) { inviteMember(email: $e, role: $r) { token } }",
                         admin, e=email, r=role)
    accepted = await http.post("/graphql", json={
        "query": f"mutation($t: String!, $p: String!) {{ acceptInvitation(token: $t, name: \"{role.title()}\","
                 f" password: $p) {{ {PAYLOAD} }} }}",
        "variables": {"t": invited["inviteMember"]["token"], "p": PASSWORD}})
    return email, accepted.json()["data"]["acceptInvitation"]["accessToken"]


async def log_in(page: Page, url: str, email: str) -> None:
    await page.goto(url + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_test_id("user-role")).to_be_visible()


def send_signups(system: System, key: str, times: list[datetime]) -> None:
    client = Client(key, system.ingest_endpoint)
    try:
        for index, moment in enumerate(times):
            client.track("signup", user_id=f"user-{index % 7}", timestamp=moment)
        assert client.flush(30)
    finally:
        client.close()
    assert client.stats.acked == len(times)


async def chart_rows(page: Page, chart: str) -> list[list[str]]:
    rows = page.locator(f"[data-chart={chart}] [data-testid=chart-data] tbody tr")
    return [[cell.strip() for cell in await row.locator("td").all_inner_texts()] for row in await rows.all()]


async def test_alerts_channels_rules_backtest_and_live_firing(
    page: Page, system: System, settings: Settings, screenshots: Path, receiver: Receiver,
) -> None:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        registered = await http.post("/graphql", json={
            "query": f"mutation($i: RegisterInput!) {{ register(input: $i) {{ {PAYLOAD} }} }}",
            "variables": {"i": {"orgName": "Alerting Co", "email": new_email(), "password": PASSWORD}}})
        admin = registered.json()["data"]["register"]["accessToken"]
        project_id = (await data(http, 'mutation { createProject(name: "Shop", timezone: "UTC") { id } }',
                                 admin))["createProject"]["id"]
        key = (await data(http, 'mutation($p: ID!) { createApiKey(projectId: $p, label: "sdk") { key } }', admin,
                          p=project_id))["createApiKey"]["key"]
        developer_email, developer = await join(http, admin, "DEVELOPER")
        viewer_email, viewer = await join(http, admin, "VIEWER")

        # History for the backtest: one or two signups a minute over the last hour, and one burst of 6.
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        past = [now - timedelta(minutes=minutes, seconds=-second) for minutes in range(60, 5, -1)
                for second in range(1 + minutes % 2)]
        past += [now - timedelta(minutes=30, seconds=-20 - second) for second in range(5)]  # 6 in that minute
        await asyncio.to_thread(send_signups, system, key, past)
        definitions = await eventually(
            lambda: data(http, "query($p: ID!) { eventDefinitions(projectId: $p) { event volume } }", admin,
                         p=project_id),
            lambda d: any(item["event"] == "signup" and item["volume"] == len(past) for item in d["eventDefinitions"]),
            within=30)
        assert any(item["event"] == "signup" for item in definitions["eventDefinitions"])

        # 1. A webhook channel, created in the UI: the signing secret is shown once.
        await log_in(page, system.url, developer_email)
        nav = page.get_by_role("navigation", name="Main")
        await nav.get_by_role("link", name="Alerts").click()
        await expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
        await expect(page.get_by_text("No alert rules yet")).to_be_visible()
        await page.get_by_role("link", name="Notification channels").click()
        await expect(page.get_by_text("No channels yet")).to_be_visible()
        form = page.get_by_role("form", name="Create channel")
        await form.get_by_label("Kind").select_option("WEBHOOK")
        await form.get_by_label("Name").fill("Pager")
        await form.get_by_label("URL").fill(f"{receiver.url}/hook")
        await form.get_by_role("button", name="Add channel").click()
        secret = (await page.get_by_test_id("webhook-secret").text_content() or "").strip()
        assert secret.startswith("whsec_"), secret
        row = page.locator("tr[data-channel-id]").filter(has_text="Pager")
        await expect(row).to_contain_text("127.0.0.1")
        await shoot(page, screenshots, "alert-channels-secret")
        await page.get_by_role("button", name="I have stored it").click()
        await expect(page.get_by_test_id("webhook-secret")).to_have_count(0)

        # "Send test": the receiver gets a notice signed with that secret, and the page says so.
        await row.get_by_role("button", name="Send test").click()
        await expect(row.get_by_test_id("test-result")).to_have_text("Test delivered")
        [(path, headers, body)] = receiver.posts
        assert path == "/hook" and orjson.loads(body)["type"] == "test"
        assert verify(secret, headers[SIGNATURE_HEADER.lower()], body, int(time.time()))
        assert not verify("whsec_wrong", headers[SIGNATURE_HEADER.lower()], body, int(time.time()))
        await shoot(page, screenshots, "alert-channels")

        # 2. A threshold rule: signups per minute above 3, notifying the webhook too.
        await page.get_by_role("link", name="All alerts").click()
        await page.get_by_role("link", name="New alert").click()
        editor = page.get_by_role("form", name="Alert rule")
        await editor.get_by_label("Rule name").fill("Signup burst")
        await editor.get_by_label("Event", exact=True).select_option("signup")
        await editor.get_by_label("Interval").select_option("MINUTE")
        await expect(editor.get_by_role("button", name="Threshold")).to_have_attribute("aria-pressed", "true")
        await editor.get_by_label("Direction").select_option("UP")
        await editor.get_by_label("Threshold").fill("3")
        await editor.get_by_role("group", name="Channels").get_by_label("Pager").check()
        # The backtest (debounced) shows the burst: what backtestAlert answers for the page's range.
        await expect(page.get_by_test_id("backtest-summary")).to_contain_text("1 incident would have opened")
        page_root = page.locator(".page[data-range-from]")
        date_from = await page_root.get_attribute("data-range-from")
        date_to = await page_root.get_attribute("data-range-to")
        backtest = await data(http, BACKTEST, developer, p=project_id, rule=RULE, **{"from": date_from, "to": date_to})
        points = backtest["backtestAlert"]["points"]
        assert len(backtest["backtestAlert"]["firedAt"]) == 1 and sum(p["value"] for p in points) == len(past)
        rows = await chart_rows(page, "backtest")
        assert [(r[0], float(r[1]), r[5]) for r in rows] == [
            (p["bucket"], p["value"], "true" if p["firing"] else "false") for p in points]
        # Its CSV is the server's backtest export of the page's variables: the same points.
        async with page.expect_download() as csv_download:
            await page.locator('[data-chart="backtest"]').get_by_role("button", name="CSV").click()
        exported = await csv_download.value
        assert re.fullmatch(r"backtest-\d{8}-\d{6}\.csv", exported.suggested_filename)
        content = await asyncio.to_thread(Path(await exported.path()).read_bytes)
        assert [(datetime.fromisoformat(r["bucket"]), float(r["value"]), r["firing"])
                for r in csv.DictReader(io.StringIO(content.decode(), newline=""))] == [
            (datetime.fromisoformat(p["bucket"]), p["value"], "true" if p["firing"] else "false") for p in points]
        await shoot(page, screenshots, "alert-rule-new")
        # An anomaly detector draws its expected band (a look, then back to the threshold).
        await editor.get_by_role("button", name="Z-score").click()
        await editor.get_by_label("Lookback").fill("10")
        await expect(page.get_by_test_id("backtest-summary")).not_to_contain_text("1 of 180 buckets firing")
        await expect(page.get_by_text("updating…")).to_have_count(0)
        await shoot(page, screenshots, "alert-rule-zscore")
        await editor.get_by_role("button", name="Threshold").click()
        await editor.get_by_label("Direction").select_option("UP")
        await expect(editor.get_by_label("Threshold")).to_have_value("3")
        await editor.get_by_role("button", name="Create alert").click()
        await expect(page).to_have_url(re.compile(r"/alerts/[0-9a-f-]{36}$"))
        rule_id = page.url.rsplit("/", 1)[1]
        await expect(page.get_by_role("heading", name="Signup burst")).to_be_visible()
        await expect(page.get_by_test_id("rule-state")).to_have_text("OK")
        saved = (await data(http, "query($id: ID!) { alertRule(id: $id) { interval channelIds series { event math }"
                            " detector { kind direction threshold } cooldownSeconds } }", developer, id=rule_id))
        assert saved["alertRule"]["series"] == {"event": "signup", "math": "TOTAL"}
        assert saved["alertRule"]["detector"] == {"kind": "THRESHOLD", "direction": "UP", "threshold": 3.0}
        assert saved["alertRule"]["interval"] == "MINUTE" and len(saved["alertRule"]["channelIds"]) == 1
        assert saved["alertRule"]["cooldownSeconds"] == 600

        # The channel test is in the feed, already read: no badge yet.
        await nav.get_by_role("link", name="Alerts").click()
        await expect(page.get_by_test_id("alert-notice")).to_have_attribute("data-kind", "test")
        badge = nav.get_by_test_id("alerts-unread")
        await expect(badge).to_have_count(0)
        await expect(page.locator("tr[data-rule-id]").get_by_test_id("rule-state")).to_have_text("OK")

        # 3. Live signups cross the threshold; the engine (run here) judges their minute once it is over.
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        await asyncio.to_thread(send_signups, system, key, [minute + timedelta(milliseconds=10 * i) for i in range(5)])
        await eventually(
            lambda: data(http, "query($p: ID!) { eventDefinitions(projectId: $p) { event volume } }", admin,
                         p=project_id),
            lambda d: any(item["volume"] == len(past) + 5 for item in d["eventDefinitions"]), within=30)
        after_minute = minute + timedelta(minutes=1, seconds=1)
        alert_settings = settings.model_copy(update={
            "alerting_tick_seconds": 0.1, "alerting_leader_retry_seconds": 0.2, "alerting_leader_check_seconds": 0.2,
            "alerting_retry_base_seconds": 0.2, "alerting_settle_seconds": 0,
            "alerting_lock_key": secrets.randbits(62)})
        engine = await start_alerting(alert_settings, lambda: max(datetime.now(UTC), after_minute))
        try:
            # Without a reload: the badge, a toast, the notice in the feed, the rule FIRING.
            await expect(badge).to_have_text("1", timeout=20_000)
            await expect(page.get_by_test_id("alert-toast")).to_contain_text("Signup burst")
            notice = page.get_by_test_id("alert-notice").filter(has_text="Signup burst").first
            await expect(notice).to_have_attribute("data-kind", "fired")
            await expect(notice).to_have_attribute("data-read", "false")
            rule_row = page.locator(f'tr[data-rule-id="{rule_id}"]')
            await expect(rule_row.get_by_test_id("rule-state")).to_have_text("FIRING")
            counts = await data(http, "query($p: ID!, $r: ID!) { unreadAlertCount(projectId: $p)"
                                " alertRule(id: $r) { state lastValue } }", developer, p=project_id, r=rule_id)
            assert counts["unreadAlertCount"] == 1
            assert counts["alertRule"] == {"state": "FIRING", "lastValue": 5.0}
            history = page.get_by_role("region", name="Alert history")
            await expect(history.get_by_test_id("history-row")).to_have_count(1)
            await shoot(page, screenshots, "alerts-firing")
            await page.get_by_test_id("alert-toast").get_by_role("button", name="Dismiss").click()
            await expect(page.get_by_test_id("alert-toast")).to_have_count(0)
            # The webhook got the fired notice too, signed.
            fired = await eventually(lambda: asyncio.sleep(0, receiver.posts), lambda posts: len(posts) >= 2)
            assert orjson.loads(fired[1][2])["type"] == "fired"
            assert verify(secret, fired[1][1][SIGNATURE_HEADER.lower()], fired[1][2], int(time.time()))

            await page.get_by_role("button", name="Mark all read").click()
            await expect(badge).to_have_count(0)
            await expect(notice).to_have_attribute("data-read", "true")
            assert (await data(http, "query($p: ID!) { unreadAlertCount(projectId: $p) }", developer,
                               p=project_id))["unreadAlertCount"] == 0
            await shoot(page, screenshots, "alerts")
            await page.get_by_role("radio", name="Dark theme").click()
            await shoot(page, screenshots, "alerts-dark")
            await page.locator(f'tr[data-rule-id="{rule_id}"]').get_by_role("link", name="Signup burst").click()
            await expect(page.get_by_test_id("rule-state")).to_have_text("FIRING")
            await expect(page.get_by_test_id("backtest-summary")).to_contain_text("would have opened")
            await shoot(page, screenshots, "alert-rule-dark")
            await page.get_by_role("radio", name="Light theme").click()
            await shoot(page, screenshots, "alert-rule")
        finally:
            await engine.stop()

        await data(http, 'mutation { createProject(name: "Other", timezone: "UTC") { id } }', admin)

        # 4. A VIEWER: the same screens, read-only; the API refuses them a rule.
        refused = await gql(http, "mutation($p: ID!, $rule: AlertRuleInput!) { createAlertRule(projectId: $p,"
                            " rule: $rule) { id } }", viewer, p=project_id, rule=RULE)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await page.get_by_role("button", name="Log out").click()
    await log_in(page, system.url, viewer_email)
    # The link of a notice (/alerts/<rule>?project=<id>) selects the rule's project, whichever was selected.
    await page.get_by_label("Project").select_option(label="Other")
    await page.goto(f"{system.url}/alerts/{rule_id}?project={project_id}")
    await expect(page.get_by_role("heading", name="Signup burst")).to_be_visible()
    await expect(page.get_by_label("Project")).to_have_value(project_id)
    await expect(page).to_have_url(re.compile(rf"/alerts/{rule_id}$"))  # the parameter did its job
    await expect(page.get_by_role("button", name="Save changes")).to_have_count(0)
    await expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    await expect(page.get_by_role("form", name="Alert rule").get_by_label("Threshold")).to_be_disabled()
    await page.get_by_role("link", name="All alerts").click()
    await expect(page.locator(f'tr[data-rule-id="{rule_id}"]')).to_be_visible()
    await expect(page.get_by_role("link", name="New alert")).to_have_count(0)
    await shoot(page, screenshots, "alerts-viewer")
    await page.get_by_role("link", name="Notification channels").click()
    await expect(page.locator("tr[data-channel-id]")).to_have_count(1)
    await expect(page.get_by_role("form", name="Create channel")).to_have_count(0)
    await expect(page.get_by_role("button", name="Send test")).to_have_count(0)
    await page.get_by_role("radio", name="Dark theme").click()
    await shoot(page, screenshots, "alert-channels-dark")
