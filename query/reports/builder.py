"""One report from spec to PDF bytes, bounded: its queries share one pooled connection and a time budget, and
rendering runs in a worker thread so the event loop keeps serving. Used by the HTTP endpoint,
`sendReportNow` and the alerting leader's scheduled sends alike."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from query.errors import BadUserInputError
from query.reports.content import Report, gather
from query.reports.render import render_pdf
from query.reports.spec import ReportContent

REPORT_TIME_BUDGET = timedelta(seconds=120)
"""Longest a whole report may take (each of its statements also stops at the analytics statement timeout)."""


async def build_report(pool: asyncpg.Pool, *, project_id: UUID, project_name: str, timezone: str,
                       date_from: datetime, date_to: datetime, content: ReportContent,
                       now: datetime | None = None) -> tuple[Report, bytes]:
    """The gathered report and its PDF; BadUserInputError for an item the analytics refuse or a report too slow."""
    try:
        async with asyncio.timeout(REPORT_TIME_BUDGET.total_seconds()):
            async with pool.acquire() as connection:
                report = await gather(connection, project_id=project_id, project_name=project_name,
                                      timezone=timezone, date_from=date_from, date_to=date_to, content=content,
                                      now=now or datetime.now(UTC))
            return report, await asyncio.to_thread(render_pdf, report)
    except TimeoutError:
        raise BadUserInputError(
            f"the report took longer than {REPORT_TIME_BUDGET.total_seconds():.0f} s; use fewer items or a shorter"
            " range"
        ) from None
