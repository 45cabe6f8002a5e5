"""Reading a rule's series with the trends engine, and judging it: one evaluation, or a backtest over a range.

The values come from `query.analytics.get_trends.get_trends`, so a rule sees
exactly the numbers the trends chart shows (same buckets in the project's
timezone, same maths, same rollups). An evaluation judges the latest
*complete* bucket that ended at least `settle` ago, from the history its
detector needs. The seasonal detector reads the same bucket of each previous
week as separate, one-bucket ranges (local wall-clock weeks), so it costs
`weeks + 1` small reads whatever the interval.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from alerting.detectors import DetectorKind, Verdict, evaluate_at, history_needed, scan, seasonal
from alerting.rules import Rule, RuleInterval, RuleSeries
from query.analytics.get_trends import get_trends


@dataclass(frozen=True)
class Judged:
    """A detector's verdict on one bucket."""

    bucket: datetime
    verdict: Verdict


def bucket_start(moment: datetime, interval: RuleInterval, timezone: str) -> datetime:
    """Start of the bucket holding `moment`, as the trends engine buckets it (local wall clock)."""
    local = moment.astimezone(ZoneInfo(timezone))
    if interval is RuleInterval.MINUTE:
        floored = local.replace(second=0, microsecond=0)
    elif interval is RuleInterval.HOUR:
        floored = local.replace(minute=0, second=0, microsecond=0)
    else:
        floored = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return floored


def shift_buckets(start: datetime, interval: RuleInterval, count: int) -> datetime:
    """The bucket `count` buckets after `start` (negative: before); days and weeks on the local calendar."""
    if interval is RuleInterval.DAY:
        zone = start.tzinfo
        return (start.replace(tzinfo=None) + timedelta(days=count)).replace(tzinfo=zone)
    # In absolute time: aware arithmetic in a ZoneInfo zone would be wall-clock arithmetic, off by an hour
    # across a daylight-saving change.
    return (start.astimezone(UTC) + count * interval.step).astimezone(start.tzinfo)


def last_complete_bucket(now: datetime, interval: RuleInterval, timezone: str, settle: timedelta) -> datetime:
    """Start of the newest bucket that ended at least `settle` before `now`."""
    return shift_buckets(bucket_start(now - settle, interval, timezone), interval, -1)


async def read_values(
    connection: asyncpg.Connection, project_id: UUID, timezone: str, series: RuleSeries, interval: RuleInterval,
    first: datetime, end: datetime,
) -> list[tuple[datetime, float]]:
    """(bucket, value) for every bucket of [first, end), zero-filled, from the trends engine."""
    results = await get_trends(
        connection, project_id=project_id, timezone=timezone, series=[series.to_spec()],
        interval=interval.trends_interval, date_from=first, date_to=end,
    )
    return [(point.bucket, point.value) for point in results[0].points]


async def evaluate(connection: asyncpg.Connection, rule: Rule, timezone: str, now: datetime,
                   settle: timedelta) -> Judged:
    """The verdict on the rule's latest complete bucket."""
    bucket = last_complete_bucket(now, rule.interval, timezone, settle)
    end = shift_buckets(bucket, rule.interval, 1)
    params = rule.detector
    if params.kind is DetectorKind.SEASONAL:
        zone = ZoneInfo(timezone)
        current = await read_values(connection, rule.project_id, timezone, rule.series, rule.interval, bucket, end)
        same_slot = []
        for weeks in range(1, params.weeks + 1):
            # Wall-clock weeks: the same local hour of the same weekday, across daylight-saving changes.
            start = (bucket.replace(tzinfo=None) - timedelta(weeks=weeks)).replace(tzinfo=zone)
            stop = shift_buckets(start, rule.interval, 1)
            values = await read_values(connection, rule.project_id, timezone, rule.series, rule.interval, start,
                                       stop)
            same_slot.extend(value for _, value in values[:1])
        return Judged(bucket, seasonal(same_slot, current[-1][1], params))
    history = history_needed(params, rule.interval.per_week)
    first = shift_buckets(bucket, rule.interval, -history)
    values = await read_values(connection, rule.project_id, timezone, rule.series, rule.interval, first, end)
    numbers = [value for _, value in values]
    return Judged(values[-1][0], evaluate_at(numbers, len(numbers) - 1, params, rule.interval.per_week))


async def backtest(connection: asyncpg.Connection, rule: Rule, timezone: str, date_from: datetime,
                   date_to: datetime) -> list[Judged]:
    """The verdict on every bucket of [date_from, date_to), each judged from the data before it."""
    first = bucket_start(date_from, rule.interval, timezone)
    history = history_needed(rule.detector, rule.interval.per_week)
    read_from = shift_buckets(first, rule.interval, -history)
    values = await read_values(connection, rule.project_id, timezone, rule.series, rule.interval, read_from,
                               date_to)
    numbers = [value for _, value in values]
    start = next((index for index, (bucket, _) in enumerate(values) if bucket >= first), len(values))
    verdicts = scan(numbers, rule.detector, rule.interval.per_week, start=start)
    return [Judged(bucket, verdict) for (bucket, _), verdict in zip(values[start:], verdicts, strict=True)]
