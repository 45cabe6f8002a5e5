"""Scheduled email reports: the leader's sender, and one send (also used by `sendReportNow`).

Each tick the leader claims the due schedules (storage/report_schedules.py moves `next_run_at` on in the
claiming transaction, so a run is claimed once whichever replica leads), then builds and emails each report
as its own task under a timeout: a slow or failing report (a refused SMTP server, a query timeout) is
recorded on its schedule (`last_status`, `last_error`) and holds up neither the others nor alert evaluation.
A leader that dies between claim and send loses that run (it is not sent twice); the next one is on time.
"""

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage

import asyncpg

from alerting.channels import Senders
from alerting.errors import DeliveryError
from config import Settings
from query.errors import QueryError
from query.reports.builder import build_report
from query.reports.content import Report
from query.reports.render import pdf_filename
from query.reports.schedule import Frequency, covered_range, next_run_after
from query.reports.spec import parse_content
from storage import alerts
from storage.report_schedules import ScheduleRow, claim_due, member_emails, record_run

logger = logging.getLogger(__name__)

SEND_TIMEOUT = timedelta(seconds=180)
"""Longest one scheduled report may take, from its queries to the SMTP server's answer."""

MAX_SUMMARY_LINES = 12


def following_run(schedule: ScheduleRow, after: datetime) -> datetime:
    return next_run_after(Frequency(schedule.frequency), schedule.weekday, schedule.hour, schedule.timezone, after)


def report_email(report: Report, pdf: bytes, schedule_name: str, sender: str, recipients: list[str]) -> EmailMessage:
    """The email: a short summary in the body (the KPIs and the sections), the PDF attached."""
    message = EmailMessage()
    message["Subject"] = f"TrackMint report: {schedule_name} ({report.project_name})"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    lines = [f"{report.title}: {report.project_name}", report.range_text, ""]
    lines += [f"{kpi.label}: {kpi.value}" for kpi in report.kpis]
    if report.kpis:
        lines.append("")
    lines += [f"- {section.title}" for section in report.sections][:MAX_SUMMARY_LINES]
    lines += ["", "The full report with its charts is attached as a PDF."]
    message.set_content("\n".join(lines) + "\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename=pdf_filename(report.title, report.generated_at))
    return message


async def send_report(pool: asyncpg.Pool, senders: Senders, settings: Settings, schedule: ScheduleRow,
                      run_at: datetime) -> None:
    """Build the schedule's report for the range its run at `run_at` covers and email it.
    DeliveryError (readable, no secrets) on any failure."""
    async with pool.acquire() as connection:
        channel = None if schedule.channel_id is None else await alerts.find_channel(
            connection, schedule.channel_id, schedule.organization_id)
        emails = await member_emails(connection, schedule.organization_id, schedule.recipient_ids)
    if channel is None or channel.kind != "email" or channel.project_id not in (None, schedule.project_id):
        raise DeliveryError("the schedule's email channel no longer exists; choose another")
    recipients = [emails[user_id] for user_id in schedule.recipient_ids if user_id in emails]
    if not recipients:
        raise DeliveryError("none of the recipients is a member of the organization any more")
    date_from, date_to = covered_range(Frequency(schedule.frequency), run_at, schedule.timezone)
    try:
        report, pdf = await build_report(
            pool, project_id=schedule.project_id, project_name=schedule.project_name, timezone=schedule.timezone,
            date_from=date_from, date_to=date_to, content=parse_content(schedule.report), now=run_at,
        )
    except QueryError as error:
        raise DeliveryError(f"the report could not be built: {error.message}") from None
    await senders.send_email_message(report_email(report, pdf, schedule.name, settings.smtp_from, recipients))


class ReportScheduler:
    """The leader's scheduled reports. `tick(now)` starts a round of due sends in the background (unless one
    is still running) and returns at once, so reports never delay alert evaluation; `stop()` cancels it."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, senders: Senders, limit: asyncio.Semaphore) -> None:
        self._settings = settings
        self._pool = pool
        self._senders = senders
        self._limit = limit
        self._round: asyncio.Task | None = None
        self.sent = 0
        self.failures = 0

    def tick(self, now: datetime) -> None:
        if self._round is None or self._round.done():
            self._round = asyncio.create_task(self.run_due(now), name="report-schedules")

    async def stop(self) -> None:
        if self._round is not None and not self._round.done():
            self._round.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._round

    async def run_due(self, now: datetime) -> None:
        try:
            async with self._pool.acquire() as connection:
                due = await claim_due(connection, now, lambda schedule: following_run(schedule, now))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            logger.warning("reports: cannot claim due schedules: %r", error)
            return
        await asyncio.gather(*(self._send_one(schedule, now) for schedule in due))

    async def _send_one(self, schedule: ScheduleRow, now: datetime) -> None:
        # After an outage several runs may have passed: report on the latest, once.
        run_at = schedule.next_run_at
        while (later := following_run(schedule, run_at)) <= now:
            run_at = later
        async with self._limit:
            error = None
            try:
                async with asyncio.timeout(SEND_TIMEOUT.total_seconds()):
                    await send_report(self._pool, self._senders, self._settings, schedule, run_at)
            except DeliveryError as failure:
                error = str(failure)
            except TimeoutError:
                error = f"timed out after {SEND_TIMEOUT.total_seconds():.0f} s"
            except Exception as failure:  # a bug in one report must not stop the others
                logger.exception("reports: schedule %s crashed", schedule.id)
                error = f"{type(failure).__name__}: {failure}"
            try:
                await record_run(self._pool, schedule.id, now, error)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as db_error:
                logger.warning("reports: cannot record schedule %s: %r", schedule.id, db_error)
            if error is None:
                self.sent += 1
                logger.info("reports: schedule %s sent", schedule.id, extra={"schedule_id": str(schedule.id),
                                                                               "project_id": str(schedule.project_id)})
            else:
                self.failures += 1
                logger.warning("reports: schedule %s failed: %s", schedule.id, error)
