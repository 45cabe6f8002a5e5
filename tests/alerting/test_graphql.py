"""Alerting over GraphQL on a real query service: CRUD and roles, backtests, testChannel, the in-app feed,
and failing channels that block nothing and stay visible."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import orjson
import pytest

from alerting.signing import SIGNATURE_HEADER, verify
from config import Settings
from storage.projects import CreatedProject
from tests.alerting.conftest import Clock, Receiver, SmtpSink, wait_for
from tests.alerting.test_engine import add_signups
from tests.live.ws_client import bearer, graphql_websocket
from tests.query.graphql_client import error_codes, execute
from tests.query.servers import start_server, stop_server
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project

RULE_FIELDS = "id name state interval evaluateEverySeconds cooldownSeconds channelIds lastError" \
              " series { label event math } detector { kind direction threshold sensitivity lookback minVolume }"

CREATE_RULE = f"""mutation($p: ID!, $rule: AlertRuleInput!) {{
  createAlertRule(projectId: $p, rule: $rule) {{ {RULE_FIELDS} }} }}"""
CREATE_CHANNEL = """mutation($kind: AlertChannelKind!, $name: String!, $p: ID, $emails: [String!], $url: String) {
  createAlertChannel(kind: $kind, name: $name, projectId: $p, emails: $emails, url: $url) {
    webhookSecret channel { id kind name emails url projectId } } }"""
TEST_CHANNEL = "mutation($id: ID!, $p: ID!) { testChannel(id: $id, projectId: $p) { ok error } }"


def threshold_rule(channel_ids: list[str], event: str = "signup", threshold: float = 5) -> dict:
    return {"name": f"{event} spike", "interval": "MINUTE", "cooldownSeconds": 0, "channelIds": channel_ids,
            "series": {"event": event, "math": "TOTAL"},
            "detector": {"kind": "THRESHOLD", "direction": "UP", "threshold": threshold}}


@pytest.fixture
async def query_url(alert_settings: Settings) -> AsyncIterator[str]:
    server, task, url = await start_server(alert_settings)
    try:
        yield url
    finally:
        await stop_server(server, task)


@pytest.fixture
async def graphql(query_url: str, caller: Caller) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=query_url, timeout=30, headers=caller.headers) as http:
        yield http


async def create_channel(graphql: httpx.AsyncClient, **variables: object) -> dict:
    body = await execute(graphql, CREATE_CHANNEL, **variables)
    assert "errors" not in body, body
    return body["data"]["createAlertChannel"]


async def test_rules_and_channels_are_managed_by_developers_and_read_by_viewers(
    db: asyncpg.Connection, graphql: httpx.AsyncClient, query_url: str, caller: Caller, project: CreatedProject,
    alert_settings: Settings,
):
    project_id = str(project.project_id)
    webhook = await create_channel(graphql, kind="WEBHOOK", name="Pager", p=project_id,
                                   url="https://hooks.example.com/services/T000/B000/secretpart")
    assert webhook["webhookSecret"].startswith("whsec_")
    assert webhook["channel"]["url"] == "https://hooks.example.com/…part"  # masked
    body = await execute(graphql, CREATE_RULE, p=project_id, rule={
        **threshold_rule([webhook["channel"]["id"]]), "detector": {"kind": "SEASONAL"}, "interval": "HOUR"})
    rule = body["data"]["createAlertRule"]
    assert rule["state"] == "OK" and rule["series"]["label"] == "signup"
    assert rule["detector"] == {"kind": "SEASONAL", "direction": "BOTH", "threshold": None, "sensitivity": 4.0,
                                "lookback": 24, "minVolume": 10.0}  # defaults written out

    developer = await add_member(db, alert_settings, caller.organization_id, "DEVELOPER")
    viewer = await add_member(db, alert_settings, caller.organization_id, "VIEWER")
    async with httpx.AsyncClient(base_url=query_url, headers=developer.headers) as as_developer:
        body = await execute(as_developer, CREATE_RULE, p=project_id, rule=threshold_rule([]))
        assert "errors" not in body, body
        body = await execute(as_developer, "mutation($id: ID!, $rule: AlertRuleInput!) { updateAlertRule(id: $id,"
                             f" rule: $rule) {{ {RULE_FIELDS} }} }}", id=rule["id"],
                             rule={**threshold_rule([]), "name": "renamed", "evaluateEverySeconds": 300})
        assert body["data"]["updateAlertRule"]["name"] == "renamed"
        assert body["data"]["updateAlertRule"]["detector"]["kind"] == "THRESHOLD"
    async with httpx.AsyncClient(base_url=query_url, headers=viewer.headers) as as_viewer:
        listed = await execute(as_viewer, "query($p: ID!) { alertRules(projectId: $p) { name } }", p=project_id)
        assert sorted(item["name"] for item in listed["data"]["alertRules"]) == ["renamed", "signup spike"]
        for mutation, variables in (
            (CREATE_RULE, {"p": project_id, "rule": threshold_rule([])}),
            ("mutation($id: ID!) { deleteAlertRule(id: $id) }", {"id": rule["id"]}),
            (CREATE_CHANNEL, {"kind": "EMAIL", "name": "x", "emails": ["a@example.com"]}),
            (TEST_CHANNEL, {"id": webhook["channel"]["id"], "p": project_id}),
        ):
            assert error_codes(await execute(as_viewer, mutation, **variables)) == ["FORBIDDEN"], mutation

    # Bad input is refused with its reason; another organization's ids look missing.
    bad = await execute(graphql, CREATE_RULE, p=project_id, rule={
        **threshold_rule([]), "detector": {"kind": "THRESHOLD", "direction": "BOTH", "threshold": 3}})
    assert error_codes(bad) == ["BAD_USER_INPUT"] and "either above" in bad["errors"][0]["message"]
    other = await create_organization(db, alert_settings, "Other")
    other_project = await create_owned_project(db, other.organization_id, "theirs")
    async with httpx.AsyncClient(base_url=query_url, headers=other.headers) as as_other:
        assert error_codes(await execute(as_other, "mutation($id: ID!) { deleteAlertRule(id: $id) }",
                                         id=rule["id"])) == ["NOT_FOUND"]
        foreign = await execute(as_other, CREATE_RULE, p=str(other_project.project_id),
                                rule=threshold_rule([webhook["channel"]["id"]]))
        assert error_codes(foreign) == ["BAD_USER_INPUT"]  # not a channel this project may use
    assert (await execute(graphql, "mutation($id: ID!) { deleteAlertRule(id: $id) }", id=rule["id"]))["data"]


@pytest.mark.parametrize(("variables", "reason"), [
    pytest.param({"kind": "WEBHOOK", "url": "http://[::1"}, "http(s) URL", id="unparsable-url"),
    pytest.param({"kind": "SLACK", "url": "https://"}, "http(s) URL", id="url-without-host"),
    pytest.param({"kind": "EMAIL", "emails": ["ops@[example.com"]}, "not an email address", id="domain-bracket"),
])
async def test_a_channel_that_could_never_be_sent_to_is_refused(
    graphql: httpx.AsyncClient, variables: dict, reason: str,
):
    body = await execute(graphql, CREATE_CHANNEL, name="Broken", **variables)
    assert error_codes(body) == ["BAD_USER_INPUT"] and reason in body["errors"][0]["message"], body


async def test_backtest_shows_when_a_rule_would_have_fired(
    db: asyncpg.Connection, graphql: httpx.AsyncClient, project: CreatedProject, clock: Clock,
):
    start = clock.now - timedelta(hours=3)
    for minute in range(180):  # a steady 6 a minute, and one burst of 40
        await add_signups(db, project.project_id, start + timedelta(minutes=minute), 40 if minute == 150 else 6)
    rule = {**threshold_rule([]), "detector": {"kind": "ZSCORE", "lookback": 30}}
    body = await execute(graphql, """query($p: ID!, $rule: AlertRuleInput!, $range: DateRangeInput!) {
      backtestAlert(projectId: $p, rule: $rule, dateRange: $range) {
        firedAt points { bucket value firing expected lower upper reason } } }""",
                         p=str(project.project_id), rule=rule,
                         range={"from": (start + timedelta(hours=1)).isoformat(), "to": clock.now.isoformat()})
    assert "errors" not in body, body
    result = body["data"]["backtestAlert"]
    assert len(result["points"]) == 120
    burst = (start + timedelta(minutes=150)).isoformat().replace("+00:00", "")
    assert [moment[:19] for moment in result["firedAt"]] == [burst[:19]]
    fired = next(point for point in result["points"] if point["firing"])
    assert fired["value"] == 40 and fired["reason"] == "above" and fired["upper"] < 40


async def test_in_app_subscription_receives_the_alert_and_the_feed_keeps_it(
    db: asyncpg.Connection, graphql: httpx.AsyncClient, query_url: str, caller: Caller, project: CreatedProject,
    clock: Clock, start_replica,
):
    project_id = str(project.project_id)
    await add_signups(db, project.project_id, clock.now, 9)
    created = await execute(graphql, CREATE_RULE, p=project_id, rule=threshold_rule([]))
    rule_id = created["data"]["createAlertRule"]["id"]
    clock.advance(minutes=1)
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws:
        await ws.subscribe("subscription($p: ID!) { alertFired(projectId: $p) { id kind ruleName message value"
                           " upper chartUrl read } }", p=project_id)
        await asyncio.sleep(0.5)  # subscribed on NATS before anything is published
        await start_replica()
        data = await ws.next_data(within=15)
    event = data["alertFired"]
    assert event["kind"] == "fired" and event["ruleName"] == "signup spike" and event["value"] == 9
    assert event["upper"] == 5 and event["chartUrl"] == f"https://trackmint.example.com/alerts/{rule_id}?project={project_id}"

    listed = await execute(graphql, "query($p: ID!) { alertEvents(projectId: $p) { id kind read }"
                           " unreadAlertCount(projectId: $p) }", p=project_id)
    assert listed["data"]["alertEvents"] == [{"id": event["id"], "kind": "fired", "read": False}]
    assert listed["data"]["unreadAlertCount"] == 1
    marked = await execute(graphql, "mutation($p: ID!) { markAlertEventsRead(projectId: $p) }", p=project_id)
    assert marked["data"]["markAlertEventsRead"] == 1
    after = await execute(graphql, "query($p: ID!) { unreadAlertCount(projectId: $p) }", p=project_id)
    assert after["data"]["unreadAlertCount"] == 0
    history = await execute(graphql, "query($p: ID!) { alertHistory(projectId: $p) { fromState toState value"
                            " reason } }", p=project_id)
    assert history["data"]["alertHistory"] == [{"fromState": "OK", "toState": "FIRING", "value": 9.0,
                                               "reason": "above"}]


async def test_test_channel_sends_a_sample_through_each_kind(
    graphql: httpx.AsyncClient, project: CreatedProject, smtp: SmtpSink, receiver: Receiver,
):
    project_id = str(project.project_id)
    email = await create_channel(graphql, kind="EMAIL", name="Team", emails=["team@example.com"])
    slack = await create_channel(graphql, kind="SLACK", name="#alerts", url=f"{receiver.url}/slack")
    webhook = await create_channel(graphql, kind="WEBHOOK", name="Hook", p=project_id, url=f"{receiver.url}/hook")
    broken = await create_channel(graphql, kind="WEBHOOK", name="Nowhere", url="http://127.0.0.1:9/none")
    for channel in (email, slack, webhook):
        body = await execute(graphql, TEST_CHANNEL, id=channel["channel"]["id"], p=project_id)
        assert body["data"]["testChannel"] == {"ok": True, "error": None}, channel
    assert len(smtp.messages) == 1 and "[TEST]" in smtp.messages[0]["Subject"]
    assert orjson.loads(receiver.on("/slack")[0].body)["blocks"][0]["type"] == "header"
    [hook] = receiver.on("/hook")
    assert verify(webhook["webhookSecret"], hook.headers[SIGNATURE_HEADER.lower()], hook.body, int(time.time()))
    failed = await execute(graphql, TEST_CHANNEL, id=broken["channel"]["id"], p=project_id)
    assert failed["data"]["testChannel"]["ok"] is False
    assert "127.0.0.1" in failed["data"]["testChannel"]["error"]


async def test_unreachable_smtp_and_webhooks_block_no_other_rule_and_the_failure_is_visible(
    db: asyncpg.Connection, graphql: httpx.AsyncClient, project: CreatedProject, alert_settings: Settings,
    clock: Clock, receiver: Receiver, start_replica,
):
    project_id = str(project.project_id)
    # Every notice of the broken rule fails: SMTP refuses (nothing listens), one webhook has no server, one hangs.
    alert_settings.smtp_port = _closed_port()
    receiver.behaviour["/slow"] = "hang"
    channels = [
        (await create_channel(graphql, kind="EMAIL", name="Mail", emails=["ops@example.com"]))["channel"]["id"],
        (await create_channel(graphql, kind="WEBHOOK", name="Dead", url=f"http://127.0.0.1:{_closed_port()}/x"))[
            "channel"]["id"],
        (await create_channel(graphql, kind="WEBHOOK", name="Slow", url=f"{receiver.url}/slow"))["channel"]["id"],
    ]
    working = (await create_channel(graphql, kind="WEBHOOK", name="Fine", url=f"{receiver.url}/fine"))["channel"]["id"]
    await add_signups(db, project.project_id, clock.now, 20)
    broken_rule = {**threshold_rule(channels), "name": "broken"}
    assert "errors" not in await execute(graphql, CREATE_RULE, p=project_id, rule=broken_rule)
    assert "errors" not in await execute(graphql, CREATE_RULE, p=project_id,
                                         rule={**threshold_rule([working]), "name": "healthy"})
    clock.advance(minutes=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await start_replica()
    # The healthy rule's notice arrives while the slow webhook is still hanging (its timeout is 1 s).
    await wait_for(lambda: len(receiver.on("/fine")) == 1, within=5)
    assert loop.time() - started < 1.0 + 0.9
    assert len(receiver.hung) == 1
    # Every attempt of the broken channels fails and is retried with backoff, until they are marked failed.
    query = """query($p: ID!) { alertDeliveries(projectId: $p, failedOnly: true) {
        channelName channelKind status attempts lastError ruleName } }"""

    async def all_failed() -> bool:
        rows = (await execute(graphql, query, p=project_id))["data"]["alertDeliveries"]
        return len(rows) == 3 and all(row["status"] == "failed" for row in rows)

    for _ in range(200):
        if await all_failed():
            break
        clock.advance(seconds=1)  # backoff is on the engine's clock
        await asyncio.sleep(0.05)
    rows = (await execute(graphql, query, p=project_id))["data"]["alertDeliveries"]
    assert {row["channelName"]: row["status"] for row in rows} == {"Mail": "failed", "Dead": "failed",
                                                                   "Slow": "failed"}
    errors = {row["channelName"]: row["lastError"] for row in rows}
    assert all(row["attempts"] == alert_settings.alerting_delivery_attempts for row in rows)
    assert "SMTP 127.0.0.1" in errors["Mail"] and "ConnectError" in errors["Dead"]
    assert "no answer within 1 s" in errors["Slow"]
    rules = (await execute(graphql, "query($p: ID!) { alertRules(projectId: $p) { name state } }",
                           p=project_id))["data"]["alertRules"]
    assert {rule["name"]: rule["state"] for rule in rules} == {"broken": "FIRING", "healthy": "FIRING"}


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
