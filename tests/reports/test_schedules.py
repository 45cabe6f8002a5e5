"""Scheduled email reports: managed over GraphQL, sent by the alerting leader at the due time (the engine's clock)
to a real SMTP server with the PDF attached, failures recorded and visible, one send per run with two replicas."""

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from alerting.channels import Senders
from alerting.detectors import DetectorKind, DetectorParams, Direction
from alerting.reports import ReportScheduler
from alerting.rules import RuleSeries, detector_to_json, series_to_json
from config import Settings
from query.analytics.get_trends import Math
from query.reports.content import format_number
from storage import alerts
from storage.database import create_pool
from tests.alerting.conftest import Clock, SmtpSink, _free_port, wait_for
from tests.query.graphql_client import error_codes, execute
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project
from tests.reports.data import ZONE, Dataset, pdf_text, text_lines

SCHEDULE = "id projectId name report frequency weekday hour recipients { id email } channelId enabled nextRunAt" \
           " lastRunAt lastStatus lastError"
CREATE = f"""mutation($p: ID!, $s: ReportScheduleInput!) {{
  createReportSchedule(projectId: $p, schedule: $s) {{ {SCHEDULE} }} }}"""
UPDATE = f"""mutation($id: ID!, $s: ReportScheduleInput!) {{
  updateReportSchedule(id: $id, schedule: $s) {{ {SCHEDULE} }} }}"""
DELETE = "mutation($id: ID!) { deleteReportSchedule(id: $id) }"
SEND_NOW = f"mutation($id: ID!) {{ sendReportNow(scheduleId: $id) {{ {SCHEDULE} }} }}"
LIST = f"query($p: ID!) {{ reportSchedules(projectId: $p) {{ {SCHEDULE} }} }}"
RECIPIENTS = "{ reportRecipients { id email name } }"

OVERVIEW = {"title": "Daily overview", "kind": "OVERVIEW"}


@pytest.fixture(autouse=True)
async def no_schedules_left(database_url: str) -> AsyncIterator[None]:
    """Every alerting leader serves every project: a schedule left behind would be mailed by other tests."""
    yield
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("DELETE FROM report_schedules")
    finally:
        await connection.close()
BERLIN = ZoneInfo(ZONE)


async def email_channel(db: asyncpg.Connection, organization_id: UUID, kind: str = "email") -> str:
    settings: dict[str, Any] = {"to": ["ops@example.com"]} if kind == "email" else {"url": "https://example.com/x"}
    channel = await alerts.insert_channel(db, organization_id, None, kind, f"{kind}-{secrets.token_hex(3)}",
                                          settings, b"n" * 16 if kind == "webhook" else None)
    return str(channel.id)


def schedule_input(recipient: UUID, channel: str, **changes: Any) -> dict[str, Any]:
    return {"name": "Morning numbers", "report": OVERVIEW, "frequency": "DAILY", "hour": 8,
            "recipientIds": [str(recipient)], "channelId": channel} | changes


async def create(client: httpx.AsyncClient, project_id: str, schedule: dict[str, Any]) -> dict[str, Any]:
    answer = await execute(client, CREATE, p=project_id, s=schedule)
    assert "errors" not in answer, answer
    return answer["data"]["createReportSchedule"]


def attachment(message: Message) -> bytes:
    parts = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert len(parts) == 1, [part.get_content_type() for part in message.walk()]
    assert parts[0].get_filename().endswith(".pdf")
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes) and payload.startswith(b"%PDF-")
    return payload


def body_text(message: Message) -> str:
    return next(part for part in message.walk() if part.get_content_type() == "text/plain").get_payload(decode=True
                                                                                                       ).decode()


async def test_schedules_are_created_listed_updated_and_deleted(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller, query_settings: Settings
) -> None:
    member = await add_member(db, query_settings, caller.organization_id, "VIEWER")
    channel = await email_channel(db, caller.organization_id)
    created = await create(client, dataset.project_id, schedule_input(member.user_id, channel))
    assert created["frequency"] == "DAILY" and created["hour"] == 8 and created["weekday"] is None
    assert [recipient["id"] for recipient in created["recipients"]] == [str(member.user_id)]
    assert created["lastStatus"] is None and created["report"] == OVERVIEW
    next_run = datetime.fromisoformat(created["nextRunAt"]).astimezone(BERLIN)
    assert (next_run.hour, next_run.minute) == (8, 0) and next_run > datetime.now(UTC)

    weekly = schedule_input(member.user_id, channel, frequency="WEEKLY", weekday=0, hour=9, name="Weekly")
    answer = await execute(client, UPDATE, id=created["id"], s=weekly)
    assert "errors" not in answer, answer
    updated = answer["data"]["updateReportSchedule"]
    next_run = datetime.fromisoformat(updated["nextRunAt"]).astimezone(BERLIN)
    assert (updated["name"], next_run.weekday(), next_run.hour) == ("Weekly", 0, 9)

    listed = (await execute(client, LIST, p=dataset.project_id))["data"]["reportSchedules"]
    assert [item["id"] for item in listed] == [created["id"]]
    # Every role reads schedules; only managers list the possible recipients.
    viewer = httpx.AsyncClient(base_url=client.base_url, headers=member.headers)
    async with viewer:
        assert len((await execute(viewer, LIST, p=dataset.project_id))["data"]["reportSchedules"]) == 1
        assert error_codes(await execute(viewer, RECIPIENTS)) == ["FORBIDDEN"]
        assert error_codes(await execute(viewer, DELETE, id=created["id"])) == ["FORBIDDEN"]
        assert error_codes(await execute(viewer, CREATE, p=dataset.project_id,
                                         s=schedule_input(member.user_id, channel))) == ["FORBIDDEN"]
    emails = {item["email"] for item in (await execute(client, RECIPIENTS))["data"]["reportRecipients"]}
    assert await db.fetchval("SELECT email FROM users WHERE id = $1", member.user_id) in emails

    assert (await execute(client, DELETE, id=created["id"]))["data"]["deleteReportSchedule"] is True
    assert error_codes(await execute(client, DELETE, id=created["id"])) == ["NOT_FOUND"]


@pytest.mark.parametrize("changes, fragment", [
    ({"hour": 24}, "hour must be 0 to 23"),
    ({"frequency": "WEEKLY"}, "weekday must be 0 (Monday) to 6 (Sunday)"),
    ({"weekday": 2}, "weekday is for WEEKLY schedules only"),
    ({"name": " "}, "name must be 1 to 200 characters"),
    ({"name": "Daily\nBcc: everyone@example.com"}, "name must be 1 to 200 characters"),
    ({"recipientIds": []}, "recipientIds must name 1 to 50 members"),
    ({"recipientIds": ["not-a-uuid"]}, "recipientIds 'not-a-uuid' is not a UUID"),
    ({"report": {"kind": "INSIGHTS", "items": [{"type": "SESSIONS"}] * 13}}, "1 to 12 items"),
    ({"report": {"kind": "INSIGHTS", "items": []}}, "1 to 12 items"),
    ({"report": {"kind": "INSIGHTS", "items": [{"type": "TRENDS", "interval": "MINUTE",
                                                "series": [{"math": "TOTAL"}]}]}}, "a chart holds at most 400"),
    ({"report": {"kind": "OVERVIEW", "dateRange": {}}}, "projectId and dateRange come from the schedule"),
    ({"report": [1]}, "report must be an object"),
])
async def test_a_bad_schedule_is_refused_naming_the_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller,
    changes: dict[str, Any], fragment: str,
) -> None:
    channel = await email_channel(db, caller.organization_id)
    answer = await execute(client, CREATE, p=dataset.project_id, s=schedule_input(caller.user_id, channel, **changes))
    assert error_codes(answer) == ["BAD_USER_INPUT"], answer
    assert fragment in answer["errors"][0]["message"]


async def test_recipients_channels_and_projects_of_other_organizations_are_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller, query_settings: Settings
) -> None:
    other = await create_organization(db, query_settings, "Other")
    theirs = await create_owned_project(db, other.organization_id, "theirs")
    mine = await email_channel(db, caller.organization_id)
    their_channel = await email_channel(db, other.organization_id)
    slack = await email_channel(db, caller.organization_id, "slack")

    stranger = await execute(client, CREATE, p=dataset.project_id, s=schedule_input(other.user_id, mine))
    assert error_codes(stranger) == ["BAD_USER_INPUT"] and "not members" in stranger["errors"][0]["message"]
    foreign = await execute(client, CREATE, p=dataset.project_id, s=schedule_input(caller.user_id, their_channel))
    assert error_codes(foreign) == ["BAD_USER_INPUT"] and "channelId" in foreign["errors"][0]["message"]
    not_email = await execute(client, CREATE, p=dataset.project_id, s=schedule_input(caller.user_id, slack))
    assert error_codes(not_email) == ["BAD_USER_INPUT"] and "email" in not_email["errors"][0]["message"]
    for project_id in (str(theirs.project_id), "00000000-0000-0000-0000-000000000000"):
        missing = await execute(client, CREATE, p=project_id, s=schedule_input(caller.user_id, mine))
        assert error_codes(missing) == ["NOT_FOUND"]

    # Their schedule is invisible to us: every mutation answers NOT_FOUND.
    async with httpx.AsyncClient(base_url=client.base_url, headers=other.headers) as them:
        theirs_schedule = await create(them, str(theirs.project_id), schedule_input(other.user_id, their_channel))
    for document, variables in ((UPDATE, {"id": theirs_schedule["id"], "s": schedule_input(caller.user_id, mine)}),
                                (DELETE, {"id": theirs_schedule["id"]}), (SEND_NOW, {"id": theirs_schedule["id"]})):
        assert error_codes(await execute(client, document, **variables)) == ["NOT_FOUND"]
    assert error_codes(await execute(client, LIST, p=str(theirs.project_id))) == ["NOT_FOUND"]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (make installs it)")
async def test_send_now_emails_the_pdf_and_records_the_outcome(
    mailing_client: httpx.AsyncClient, module_smtp: SmtpSink, db: asyncpg.Connection, dataset: Dataset,
    caller: Caller, tmp_path: Path,
) -> None:
    channel = await email_channel(db, caller.organization_id)
    created = await create(mailing_client, dataset.project_id, schedule_input(caller.user_id, channel))
    before = len(module_smtp.messages)
    answer = await execute(mailing_client, SEND_NOW, id=created["id"])
    assert "errors" not in answer, answer
    sent = answer["data"]["sendReportNow"]
    assert (sent["lastStatus"], sent["lastError"]) == ("SENT", None)
    assert sent["nextRunAt"] == created["nextRunAt"]  # the regular schedule is unchanged
    assert len(module_smtp.messages) == before + 1
    message = module_smtp.messages[-1]
    assert message["To"] == sent["recipients"][0]["email"]
    assert "Morning numbers" in message["Subject"]
    assert "Daily overview" in pdf_text(attachment(message), tmp_path)

    # Again at once: refused, so a double click mails nobody twice.
    again = await execute(mailing_client, SEND_NOW, id=created["id"])
    assert error_codes(again) == ["RATE_LIMITED"] and again["errors"][0]["extensions"]["retryAfterSeconds"] >= 1
    assert len(module_smtp.messages) == before + 1

    # The channel goes away: the next send fails, visibly, and nothing is mailed.
    await db.execute("DELETE FROM alert_channels WHERE id = $1", UUID(channel))
    await db.execute("UPDATE report_schedules SET last_run_at = last_run_at - interval '1 minute' WHERE id = $1",
                     UUID(created["id"]))
    failed = (await execute(mailing_client, SEND_NOW, id=created["id"]))["data"]["sendReportNow"]
    assert failed["lastStatus"] == "FAILED" and "email channel no longer exists" in failed["lastError"]
    assert failed["channelId"] is None
    assert len(module_smtp.messages) == before + 1


async def due_schedule(client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller,
                       due: datetime, **changes: Any) -> dict[str, Any]:
    """A daily schedule at 08:00 Berlin whose next run is `due` (the alerting clock is in the past)."""
    channel = await email_channel(db, caller.organization_id)
    created = await create(client, dataset.project_id, schedule_input(caller.user_id, channel, **changes))
    await db.execute("UPDATE report_schedules SET next_run_at = $2 WHERE id = $1", UUID(created["id"]), due)
    return created


async def schedule_row(db: asyncpg.Connection, schedule_id: str) -> asyncpg.Record:
    return await db.fetchrow("SELECT * FROM report_schedules WHERE id = $1", UUID(schedule_id))


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (make installs it)")
async def test_the_leader_sends_a_due_report_at_its_time_with_the_pdf(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller, clock: Clock,
    smtp: SmtpSink, start_replica, tmp_path: Path,
) -> None:
    due = datetime(2026, 10, 26, 8, tzinfo=BERLIN)  # covers Sunday Oct 25, Berlin's 25-hour day
    created = await due_schedule(client, db, dataset, caller, due)
    clock.now = due.astimezone(UTC) - timedelta(minutes=1)
    replica = await start_replica()
    await wait_for(lambda: replica.is_leader)
    await asyncio.sleep(0.5)  # several ticks before the due time: nothing is sent
    assert smtp.messages == []
    assert (await schedule_row(db, created["id"]))["last_status"] is None

    clock.now = due.astimezone(UTC)
    replica.engine.wake()
    await wait_for(lambda: len(smtp.messages) == 1)
    message = smtp.messages[0]
    body = body_text(message)
    assert "2026-10-25 00:00 \N{EN DASH} 2026-10-26 00:00 (Europe/Berlin)" in body
    lines = text_lines(pdf_text(attachment(message), tmp_path))
    trends = await execute(client, """query($p: ID!, $r: DateRangeInput!) {
        trends(projectId: $p, series: [{math: TOTAL}], interval: HOUR, dateRange: $r) { points { value } } }""",
                           p=dataset.project_id, r={"from": "2026-10-25T00:00:00+02:00",
                                                    "to": "2026-10-26T00:00:00+01:00"})
    points = trends["data"]["trends"][0]["points"]
    assert len(points) == 25  # the hour the clocks went back is its own bucket
    total = format_number(sum(point["value"] for point in points))
    assert any(line.startswith(f"{total} ") for line in lines), lines
    assert f"Events: {total}" in body

    await wait_for(lambda: _status(db, created["id"], "sent"))
    row = await schedule_row(db, created["id"])
    assert row["next_run_at"] == datetime(2026, 10, 27, 8, tzinfo=BERLIN)
    await asyncio.sleep(0.5)
    assert len(smtp.messages) == 1  # once per run


async def _status(db: asyncpg.Connection, schedule_id: str, status: str) -> bool:
    return (await schedule_row(db, schedule_id))["last_status"] == status


async def test_a_refused_smtp_send_is_recorded_and_the_next_run_still_goes_out(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller, clock: Clock,
    smtp: SmtpSink, alert_settings: Settings, start_replica,
) -> None:
    due = datetime(2026, 10, 27, 8, tzinfo=BERLIN)
    broken = await due_schedule(client, db, dataset, caller, due)
    clock.now = due.astimezone(UTC)
    # Nothing listens on the SMTP port while the first run is due.
    alert_settings.smtp_port = _free_port()
    replica = await start_replica()
    await wait_for(lambda: _status(db, broken["id"], "failed"))
    listed = (await execute(client, LIST, p=dataset.project_id))["data"]["reportSchedules"]
    shown = next(item for item in listed if item["id"] == broken["id"])
    assert shown["lastStatus"] == "FAILED" and "SMTP 127.0.0.1" in shown["lastError"]
    assert "ConnectionRefused" in shown["lastError"] or "connect" in shown["lastError"].lower()
    assert datetime.fromisoformat(shown["nextRunAt"]) == datetime(2026, 10, 28, 8, tzinfo=BERLIN)
    assert replica.engine.stats.evaluation_errors == 0

    await replica.stop()
    # SMTP is back for the next day's run.
    alert_settings.smtp_port = smtp.port
    clock.now = datetime(2026, 10, 28, 8, 0, 30, tzinfo=BERLIN).astimezone(UTC)
    await start_replica("alerting-2")
    await wait_for(lambda: _status(db, broken["id"], "sent"))
    assert len(smtp.messages) == 1
    assert (await schedule_row(db, broken["id"]))["last_error"] is None


async def test_two_replicas_send_a_due_report_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller, clock: Clock,
    smtp: SmtpSink, start_replica,
) -> None:
    due = datetime(2026, 10, 28, 8, tzinfo=BERLIN)
    created = await due_schedule(client, db, dataset, caller, due)
    clock.now = due.astimezone(UTC)
    replicas = [await start_replica("alerting-a"), await start_replica("alerting-b")]
    await wait_for(lambda: _status(db, created["id"], "sent"))
    await asyncio.sleep(1.0)
    assert sum(replica.is_leader for replica in replicas) == 1
    assert len(smtp.messages) == 1


async def test_two_leaders_at_once_claim_a_due_run_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller, smtp: SmtpSink,
    alert_settings: Settings,
) -> None:
    """Split brain (an old leader not yet aware it lost the lock): the claim itself keeps the send single."""
    due = datetime(2026, 10, 28, 8, tzinfo=BERLIN)
    created = await due_schedule(client, db, dataset, caller, due)
    assert alert_settings.database_url
    pools = [await create_pool(alert_settings.database_url, size=2) for _ in range(2)]
    try:
        async with httpx.AsyncClient() as http:
            schedulers = [ReportScheduler(alert_settings, pool, Senders(alert_settings, http), asyncio.Semaphore(4))
                          for pool in pools]
            now = due.astimezone(UTC)
            await asyncio.gather(*(scheduler.run_due(now) for scheduler in schedulers))
    finally:
        for pool in pools:
            await pool.close()
    assert sum(scheduler.sent for scheduler in schedulers) == 1
    assert len(smtp.messages) == 1
    assert (await schedule_row(db, created["id"]))["last_status"] == "sent"


async def test_a_hanging_smtp_server_holds_up_no_alert_evaluation(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller, clock: Clock,
    alert_settings: Settings, start_replica,
) -> None:
    async def never_greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection, says nothing until the client gives up
        writer.close()

    hanging = await asyncio.start_server(never_greet, "127.0.0.1", 0)
    try:
        alert_settings.smtp_port = hanging.sockets[0].getsockname()[1]
        alert_settings.alerting_delivery_timeout_seconds = 4.0
        created = await due_schedule(client, db, dataset, caller, clock.now - timedelta(seconds=1))
        await alerts.insert_rule(
            db, dataset.project.project_id, name="Signups",
            series=series_to_json(RuleSeries(event="signup", math=Math.TOTAL)), interval="minute",
            detector=detector_to_json(DetectorParams(DetectorKind.THRESHOLD, Direction.UP, threshold=1000)),
            evaluate_every_seconds=60, cooldown_seconds=0, channel_ids=[],
        )
        replica = await start_replica()
        await wait_for(lambda: _status(db, created["id"], "sending"))
        await wait_for(lambda: replica.engine.stats.evaluations >= 1)
        evaluated = replica.engine.stats.evaluations
        # While the report waits on SMTP, the next minute's evaluation runs on time.
        clock.advance(seconds=61)
        replica.engine.wake()
        await wait_for(lambda: replica.engine.stats.evaluations > evaluated, within=2)
        assert await _status(db, created["id"], "sending")
        await wait_for(lambda: _status(db, created["id"], "failed"), within=10)
        error = (await schedule_row(db, created["id"]))["last_error"]
        assert error.startswith(f"SMTP 127.0.0.1:{alert_settings.smtp_port}:") and "Timeout" in error, error
    finally:
        hanging.close()
        await db.execute("DELETE FROM alert_rules WHERE project_id = $1", dataset.project.project_id)
