"""The alerting engine end to end: events in PostgreSQL, a rule, a leader, and real SMTP and HTTP receivers."""

import asyncio
import json
import time
from datetime import timedelta
from uuid import UUID

import asyncpg
import orjson

from alerting.detectors import DetectorKind, DetectorParams, Direction
from alerting.rules import RuleSeries, detector_to_json, series_to_json
from alerting.signing import DELIVERY_HEADER, SIGNATURE_HEADER, new_nonce, verify, webhook_secret
from config import Settings
from query.analytics.get_trends import Math
from storage import alerts
from storage.projects import CreatedProject
from tests.alerting.conftest import Clock, Receiver, SmtpSink, deliveries, wait_for
from tests.query.event_data import GeneratedEvent, insert_events
from tests.query.tenant import Caller


async def add_signups(db: asyncpg.Connection, project_id: UUID, minute, count: int) -> None:
    events = [GeneratedEvent(event_time=minute + timedelta(seconds=1 + index % 50), message_id=f"m{minute}{index}",
                             event="signup") for index in range(count)]
    await insert_events(db, project_id, events)


async def create_channels(db: asyncpg.Connection, caller: Caller, project: CreatedProject,
                          receiver: Receiver) -> dict[str, UUID]:
    email = await alerts.insert_channel(db, caller.organization_id, None, "email", "On call",
                                        {"to": ["oncall@example.com"]}, None)
    slack = await alerts.insert_channel(db, caller.organization_id, project.project_id, "slack", "#alerts",
                                        {"url": f"{receiver.url}/slack"}, None)
    webhook = await alerts.insert_channel(db, caller.organization_id, project.project_id, "webhook", "Pager",
                                          {"url": f"{receiver.url}/hook"}, new_nonce())
    return {"email": email.id, "slack": slack.id, "webhook": webhook.id}


async def create_threshold_rule(db: asyncpg.Connection, project: CreatedProject, channel_ids: list[UUID],
                                name: str = "Signup spike", event: str = "signup", cooldown: int = 0) -> UUID:
    return await alerts.insert_rule(
        db, project.project_id, name=name,
        series=series_to_json(RuleSeries(event=event, math=Math.TOTAL)), interval="minute",
        detector=detector_to_json(DetectorParams(DetectorKind.THRESHOLD, Direction.UP, threshold=5)),
        evaluate_every_seconds=60, cooldown_seconds=cooldown, channel_ids=channel_ids,
    )


def sent(rows: list[asyncpg.Record], kind: str) -> int:
    return sum(1 for row in rows if row["event_kind"] == kind and row["status"] == "sent")


async def test_a_spike_sends_one_notice_per_channel_then_one_resolution(
    db: asyncpg.Connection, caller: Caller, project: CreatedProject, alert_settings: Settings, clock: Clock,
    smtp: SmtpSink, receiver: Receiver, start_replica,
):
    spike_minute = clock.now
    await add_signups(db, project.project_id, spike_minute, 12)
    channels = await create_channels(db, caller, project, receiver)
    rule_id = await create_threshold_rule(db, project, list(channels.values()))
    clock.advance(minutes=1)  # the spike's minute is now the last complete bucket

    replica = await start_replica()
    await wait_for(lambda: replica.is_leader)
    await wait_for(lambda: _count(db, project.project_id, "fired", 4))

    assert len(smtp.messages) == 1
    email = smtp.messages[0]
    assert email["To"] == "oncall@example.com"
    assert "[FIRING] Signup spike" in email["Subject"]
    assert "12" in email.get_payload()
    # The link opens the rule's screen of the web UI, with its project selected.
    text = email.get_payload(decode=True).decode()  # quoted-printable now that the link holds "="
    assert f"https://trackmint.example.com/alerts/{rule_id}?project={project.project_id}" in text

    [slack] = receiver.on("/slack")
    message = json.loads(slack.body)
    assert message["blocks"][0]["type"] == "header"
    fields = " ".join(item["text"] for item in message["blocks"][1]["fields"])
    assert "*Value*\n12" in fields and "*Expected range*" in fields
    assert message["blocks"][2]["elements"][0]["url"].endswith(f"/alerts/{rule_id}?project={project.project_id}")

    [hook] = receiver.on("/hook")
    nonce = await db.fetchval("SELECT secret_nonce FROM alert_channels WHERE id = $1", channels["webhook"])
    secret = webhook_secret(alert_settings.secret_key, nonce)
    assert verify(secret, hook.headers[SIGNATURE_HEADER.lower()], hook.body, int(time.time()))
    assert not verify("whsec_wrong", hook.headers[SIGNATURE_HEADER.lower()], hook.body, int(time.time()))
    payload = orjson.loads(hook.body)
    assert payload["type"] == "fired" and payload["value"] == 12 and payload["ruleId"] == str(rule_id)
    assert hook.headers[DELIVERY_HEADER.lower()]

    # Still above the threshold? No: the next minute is empty, so the incident resolves (cooldown 0), once.
    clock.advance(minutes=1)
    replica.engine.wake()
    await wait_for(lambda: _count(db, project.project_id, "resolved", 4))
    for _ in range(3):  # quiet minutes: nothing more
        clock.advance(minutes=1)
        replica.engine.wake()
        await asyncio.sleep(0.3)
    rows = await deliveries(db, project.project_id)
    assert (sent(rows, "fired"), sent(rows, "resolved"), len(rows)) == (4, 4, 8)
    assert len(smtp.messages) == 2 and "[RESOLVED]" in smtp.messages[1]["Subject"]
    assert len(receiver.on("/hook")) == 2 and len(receiver.on("/slack")) == 2
    changes = await db.fetch("SELECT from_state, to_state FROM alert_state_changes WHERE rule_id = $1 ORDER BY id",
                             rule_id)
    assert [(row["from_state"], row["to_state"]) for row in changes] == [("ok", "firing"), ("firing", "resolved")]


async def test_cooldown_keeps_a_flapping_series_one_incident(
    db: asyncpg.Connection, caller: Caller, project: CreatedProject, clock: Clock, receiver: Receiver,
    start_replica,
):
    start = clock.now
    for minute in (0, 2, 4):  # spike, quiet, spike, quiet, spike, then quiet for good
        await add_signups(db, project.project_id, start + timedelta(minutes=minute), 8)
    channels = await create_channels(db, caller, project, receiver)
    rule_id = await create_threshold_rule(db, project, [channels["webhook"]], cooldown=180)
    replica = await start_replica()
    for _ in range(10):
        clock.advance(minutes=1)
        replica.engine.wake()
        await wait_for(lambda: _evaluated_at(db, rule_id, clock.now))
    await wait_for(lambda: _count(db, project.project_id, "resolved", 2))
    kinds = [orjson.loads(post.body)["type"] for post in receiver.on("/hook")]
    assert kinds == ["fired", "resolved"]


async def _count(db: asyncpg.Connection, project_id: UUID, kind: str, expected: int) -> bool:
    return sent(await deliveries(db, project_id), kind) >= expected


async def _evaluated_at(db: asyncpg.Connection, rule_id: UUID, moment) -> bool:
    return await db.fetchval("SELECT last_evaluated_at >= $2 FROM alert_rule_states WHERE rule_id = $1",
                             rule_id, moment) or False
