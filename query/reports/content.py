"""A report's numbers: each item runs the analytics function its GraphQL field runs, with the same arguments,
so a PDF shows exactly what `trends`, `funnel`, `retention`, `sessionsSummary` and `topValues` answer.

The result is plain data (titles, formatted table cells, chart series) for render.py; numbers are formatted
here, once, so the PDF's tables and the email's summary say the same.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from query.analytics.get_funnel import FunnelSpec, get_funnel
from query.analytics.get_retention import RetentionPeriod, get_retention
from query.analytics.get_sessions import SessionStats, get_sessions
from query.analytics.get_top_values import TopDimension, get_top_values
from query.analytics.get_trends import Math, SeriesSpec, TrendSeries, get_trends
from query.analytics.intervals import Interval
from query.reports.spec import (
    FunnelItem,
    Item,
    ReportContent,
    ReportKind,
    RetentionItem,
    SessionsItem,
    TrendsItem,
    interval_for,
)

OVERVIEW_TOP_LIMIT = 8
"""Rows of each overview top list, as the web UI's overview shows."""

OVERVIEW_TOP_LISTS = (
    ("Top pages", "page", TopDimension.PAGE),
    ("Top referrers", "referrer", TopDimension.REFERRER_DOMAIN),
    ("Top countries", "country", TopDimension.COUNTRY),
    ("Top browsers", "browser", TopDimension.BROWSER),
)

DASH = "\N{EN DASH}"
"""Shown for a number that does not exist (the median of no sessions)."""

_BUCKET_FORMATS = {
    Interval.MINUTE: "%b %d %H:%M", Interval.HOUR: "%b %d %H:%M", Interval.DAY: "%a %b %d",
    Interval.WEEK: "%b %d", Interval.MONTH: "%b %Y",
}


@dataclass(frozen=True)
class Line:
    name: str
    values: list[float]


@dataclass(frozen=True)
class Chart:
    """`kind` "time": x is time buckets (a line chart, or bars for one line of few buckets);
    "bars": one horizontal bar per label; "columns": one vertical bar per label (funnel steps)."""

    kind: str
    labels: list[str]
    lines: list[Line]
    percent: bool = False


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class Section:
    title: str
    chart: Chart | None
    tables: list[Table]
    note: str = ""


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Report:
    title: str
    project_name: str
    timezone: str
    date_from: datetime
    date_to: datetime
    generated_at: datetime
    kpis: list[Kpi] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    @property
    def range_text(self) -> str:
        zone = ZoneInfo(self.timezone)
        start, end = self.date_from.astimezone(zone), self.date_to.astimezone(zone)
        return f"{start:%Y-%m-%d %H:%M} {DASH} {end:%Y-%m-%d %H:%M} ({self.timezone})"


def format_number(value: float | None) -> str:
    """Whole numbers with thousands separators, others with two decimals; None as a dash."""
    if value is None:
        return DASH
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def format_percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{fraction * 100:.1f}%"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_bucket(bucket: datetime, interval: Interval, zone: ZoneInfo) -> str:
    return bucket.astimezone(zone).strftime(_BUCKET_FORMATS[interval])


@dataclass(frozen=True)
class _Scope:
    project_id: UUID
    timezone: str
    date_from: datetime
    date_to: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


async def gather(connection: asyncpg.Connection, *, project_id: UUID, project_name: str, timezone: str,
                 date_from: datetime, date_to: datetime, content: ReportContent, now: datetime) -> Report:
    """The report's numbers; BadUserInputError (from the analytics functions) for an item they refuse."""
    scope = _Scope(project_id, timezone, date_from, date_to)
    report = Report(content.title, project_name, timezone, date_from, date_to, now)
    if content.kind is ReportKind.OVERVIEW:
        await _overview(connection, scope, report)
    for item in content.items:
        report.sections.append(await _item(connection, scope, item))
    return report


async def _overview(connection: asyncpg.Connection, scope: _Scope, report: Report) -> None:
    interval = interval_for(scope.date_from, scope.date_to)
    [events] = await _trends(connection, scope, [SeriesSpec(None, Math.TOTAL)], interval)
    sessions = await get_sessions(connection, project_id=scope.project_id, timezone=scope.timezone,
                                  date_from=scope.date_from, date_to=scope.date_to)
    totals = sessions.totals
    report.kpis.extend([
        Kpi("Events", format_number(sum(point.value for point in events.points))),
        Kpi("Persons", format_number(totals.persons), "with a session in range"),
        Kpi("Sessions", format_number(totals.sessions), f"median {format_seconds(totals.median_duration_seconds)}"),
        Kpi("Bounce rate", format_percent(totals.bounce_rate), "one-event sessions"),
    ])
    report.sections.append(_time_section("Events over time", [events], interval, scope.zone))
    for title, label, dimension in OVERVIEW_TOP_LISTS:
        top = await get_top_values(connection, project_id=scope.project_id, date_from=scope.date_from,
                                   date_to=scope.date_to, dimension=dimension, limit=OVERVIEW_TOP_LIMIT)
        rows = [(value.value, format_number(value.events), format_number(value.persons)) for value in top.values]
        chart = Chart("bars", [value.value for value in top.values],
                      [Line("Events", [float(value.events) for value in top.values])]) if rows else None
        report.sections.append(Section(title, chart, [Table((label, "events", "persons"), rows)],
                                       "" if rows else "No data in this range."))


async def _trends(connection: asyncpg.Connection, scope: _Scope, series: Sequence[SeriesSpec], interval: Interval,
                  item: TrendsItem | None = None) -> list[TrendSeries]:
    return await get_trends(
        connection, project_id=scope.project_id, timezone=scope.timezone, series=series, interval=interval,
        date_from=scope.date_from, date_to=scope.date_to,
        filters=item.filters if item else (), breakdown=item.breakdown if item else None,
        breakdown_limit=item.breakdown_limit if item else 5,
    )


def _line_name(series: TrendSeries) -> str:
    if series.is_other:
        return f"{series.label}: Other"
    if series.breakdown_value is not None:
        return f"{series.label}: {series.breakdown_value}"
    return series.label


def _time_section(title: str, results: list[TrendSeries], interval: Interval, zone: ZoneInfo,
                  names: list[str] | None = None) -> Section:
    names = names or [_line_name(series) for series in results]
    buckets = [point.bucket for point in results[0].points] if results else []
    labels = [format_bucket(bucket, interval, zone) for bucket in buckets]
    lines = [Line(name, [point.value for point in series.points]) for name, series in zip(names, results, strict=True)]
    rows = [(label, *(format_number(series.points[index].value) for series in results))
            for index, label in enumerate(labels)]
    totals = [sum(point.value for point in series.points) for series in results]
    note = f"{interval.name.lower()} buckets in {zone.key}"
    if not any(totals):
        note = "No data in this range."
    return Section(title, Chart("time", labels, lines), [Table(("bucket", *names), rows)], note)


async def _item(connection: asyncpg.Connection, scope: _Scope, item: Item) -> Section:
    if isinstance(item, TrendsItem):
        interval = item.interval or interval_for(scope.date_from, scope.date_to)
        results = await _trends(connection, scope, item.series, interval, item)
        labelled = [_line_name(series) for series in results]
        if item.breakdown is None:
            # Without a breakdown each result is one series: say what it measures unless it counts events.
            labelled = [name if spec.math is Math.TOTAL else f"{name} ({spec.math.name.lower().replace('_', ' ')})"
                        for name, spec in zip(labelled, item.series, strict=True)]
        return _time_section(item.title, results, interval, scope.zone, labelled)
    if isinstance(item, FunnelItem):
        return await _funnel(connection, scope, item)
    if isinstance(item, RetentionItem):
        return await _retention(connection, scope, item)
    return await _sessions(connection, scope, item)


async def _funnel(connection: asyncpg.Connection, scope: _Scope, item: FunnelItem) -> Section:
    result = await get_funnel(connection, FunnelSpec(
        project_id=scope.project_id, steps=item.steps, date_from=scope.date_from, date_to=scope.date_to,
        window=item.window, mode=item.mode,
    ))
    labels = [f"{number}. {step.event}" for number, step in enumerate(result.steps, start=1)]
    rows = [(label, format_number(step.persons), format_percent(step.conversion_from_start),
             format_percent(step.conversion_from_previous), format_seconds(step.median_seconds_from_previous))
            for label, step in zip(labels, result.steps, strict=True)]
    chart = Chart("columns", labels, [Line("Persons", [float(step.persons) for step in result.steps])])
    header = ("step", "persons", "from start", "from previous", "median time")
    note = f"{item.mode.name.lower()} funnel, window {format_seconds(item.window.total_seconds())}"
    return Section(item.title, chart, [Table(header, rows)], note)


async def _retention(connection: asyncpg.Connection, scope: _Scope, item: RetentionItem) -> Section:
    cohorts = await get_retention(
        connection, project_id=scope.project_id, timezone=scope.timezone, start=item.start,
        returning=item.returning, period=item.period, periods=item.periods, date_from=scope.date_from,
        date_to=scope.date_to, mode=item.mode,
    )
    unit = {RetentionPeriod.DAY: "day", RetentionPeriod.WEEK: "week", RetentionPeriod.MONTH: "month"}[item.period]
    interval = Interval(item.period.value)
    header = ("cohort", "persons", *(f"{unit} {k}" for k in range(item.periods)))
    rows = []
    for cohort in cohorts:
        cells = {value.period: format_percent(value.fraction) for value in cohort.values}
        rows.append((format_bucket(cohort.cohort_start, interval, scope.zone), format_number(cohort.size),
                     *(cells.get(k, "") for k in range(item.periods))))
    # The chart: of every cohort that reached period k, the share retained at k (weighted by cohort size).
    shares = []
    for k in range(item.periods):
        reached = [(value.count, cohort.size) for cohort in cohorts for value in cohort.values if value.period == k]
        size = sum(size for _, size in reached)
        shares.append(sum(count for count, _ in reached) / size if size else 0.0)
    chart = Chart("columns", [f"{unit} {k}" for k in range(item.periods)], [Line("Retained", shares)], percent=True)
    note = f"{item.mode.name.lower().replace('_', ' ')} cohorts by {unit}, in {scope.timezone}"
    return Section(item.title, chart, [Table(header, rows)], note)


def _stats_cells(stats: SessionStats) -> tuple[str, ...]:
    return (format_number(stats.sessions), format_number(stats.persons), format_seconds(stats.median_duration_seconds),
            format_percent(stats.bounce_rate), format_number(stats.pageviews_per_session))


_STATS_HEADER = ("sessions", "persons", "median duration", "bounce rate", "pages / session")


async def _sessions(connection: asyncpg.Connection, scope: _Scope, item: SessionsItem) -> Section:
    interval = interval_for(scope.date_from, scope.date_to)
    summary = await get_sessions(
        connection, project_id=scope.project_id, timezone=scope.timezone, date_from=scope.date_from,
        date_to=scope.date_to, breakdown=item.breakdown, interval=None if item.breakdown else interval,
    )
    tables = [Table(("", *_STATS_HEADER), [("All sessions", *_stats_cells(summary.totals))])]
    if item.breakdown is not None:
        names = [("Other" if group.is_other else group.value or "(none)") for group in summary.breakdown]
        tables.append(Table((item.breakdown.name.lower(), *_STATS_HEADER),
                            [(name, *_stats_cells(group.stats)) for name, group in
                             zip(names, summary.breakdown, strict=True)]))
        chart = Chart("bars", names, [Line("Sessions", [float(group.stats.sessions) for group in summary.breakdown])])
    else:
        labels = [format_bucket(bucket.bucket, interval, scope.zone) for bucket in summary.series]
        chart = Chart("time", labels, [Line("Sessions", [float(bucket.stats.sessions) for bucket in summary.series])])
        tables.append(Table(("entry page", *_STATS_HEADER),
                            [(page.page, *_stats_cells(page.stats)) for page in summary.entry_pages]))
    note = "" if summary.totals.sessions else "No sessions in this range."
    return Section(item.title, chart, tables, note)
