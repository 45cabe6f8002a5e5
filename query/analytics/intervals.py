"""Time buckets in a project's timezone, as SQL fragments shared by the analytics queries.

Two kinds of bucket:

- MINUTE and HOUR are fixed lengths of absolute time, aligned to the local
  wall clock: `date_bin` with the origin at local midnight of 2000-01-01, so a
  +05:30 zone gets hour buckets starting at :30 UTC. Daylight-saving changes
  therefore produce neither a duplicate nor a missing bucket.
- DAY, WEEK (ISO, starting Monday) and MONTH are local calendar periods:
  `date_trunc(unit, ts AT TIME ZONE tz) AT TIME ZONE tz`. A day may be 23 or 25
  hours long. The list of buckets is generated over local timestamps with the
  same expression, so generation and grouping always agree.
"""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from query.analytics._params import Params
from query.errors import BadUserInputError

MAX_BUCKETS = 5000
"""Most buckets one query may ask for; more is a chart nobody can read and a scan nobody wants."""

_ONE_MICROSECOND = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)


class Interval(enum.Enum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def is_absolute(self) -> bool:
        return self in (Interval.MINUTE, Interval.HOUR)


_ABSOLUTE_STEPS = {Interval.MINUTE: timedelta(minutes=1), Interval.HOUR: timedelta(hours=1)}


@dataclass(frozen=True)
class BucketRange:
    """First and last bucket of a date range.

    For absolute intervals these are instants (aware datetimes); for calendar
    intervals they are local wall-clock starts (naive datetimes).
    """

    first: datetime
    last: datetime
    count: int


class Bucketing:
    """SQL fragments that put timestamps into buckets of one interval in one timezone."""

    def __init__(self, interval: Interval, timezone: str, params: Params) -> None:
        self.interval = interval
        self._params = params
        self._tz = params.add(timezone, "text")
        if interval.is_absolute:
            self._step = params.add(_ABSOLUTE_STEPS[interval], "interval")
            self._origin = f"('2000-01-01 00:00'::timestamp AT TIME ZONE {self._tz})"
        else:
            self._unit = params.add(interval.value, "text")

    @property
    def timezone_param(self) -> str:
        """The placeholder of the project's timezone."""
        return self._tz

    def bucket_of(self, column: str) -> str:
        """The start (timestamptz) of the bucket holding the timestamptz `column`."""
        if self.interval.is_absolute:
            return f"date_bin({self._step}, {column}, {self._origin})"
        return f"(date_trunc({self._unit}, {column} AT TIME ZONE {self._tz}) AT TIME ZONE {self._tz})"

    def bounds_sql(self, date_from: datetime, date_to: datetime) -> str:
        """SELECT of the first and last bucket of [date_from, date_to), see `BucketRange`."""
        start = self._params.add(date_from, "timestamptz")
        # The last bucket is the one holding the last instant before `date_to`.
        end = self._params.add(date_to - _ONE_MICROSECOND, "timestamptz")
        if self.interval.is_absolute:
            return f"SELECT {self.bucket_of(start)} AS first, {self.bucket_of(end)} AS last"
        return (
            f"SELECT date_trunc({self._unit}, {start} AT TIME ZONE {self._tz}) AS first,"
            f" date_trunc({self._unit}, {end} AT TIME ZONE {self._tz}) AS last"
        )

    def series_sql(self, buckets: BucketRange) -> str:
        """SELECT of every bucket start (timestamptz, column `bucket`) from first to last."""
        if self.interval.is_absolute:
            first = self._params.add(buckets.first, "timestamptz")
            last = self._params.add(buckets.last, "timestamptz")
            return f"SELECT generate_series({first}, {last}, {self._step}) AS bucket"
        first = self._params.add(buckets.first, "timestamp")
        last = self._params.add(buckets.last, "timestamp")
        step = self._params.add(f"1 {self.interval.value}", "text")
        return (
            f"SELECT local_start AT TIME ZONE {self._tz} AS bucket"
            f" FROM generate_series({first}, {last}, {step}::interval) AS local_start"
        )

    def count_buckets(self, first: datetime, last: datetime) -> int:
        if self.interval.is_absolute:
            return (last - first) // _ABSOLUTE_STEPS[self.interval] + 1
        if self.interval is Interval.DAY:
            return (last.date() - first.date()).days + 1
        if self.interval is Interval.WEEK:
            return (last.date() - first.date()).days // 7 + 1
        return (last.year - first.year) * 12 + last.month - first.month + 1


async def get_bucket_range(
    connection: asyncpg.Connection, interval: Interval, timezone: str, date_from: datetime, date_to: datetime
) -> BucketRange:
    """The buckets [date_from, date_to) spans; refuses ranges of more than MAX_BUCKETS."""
    params = Params()
    bucketing = Bucketing(interval, timezone, params)
    row = await connection.fetchrow(bucketing.bounds_sql(date_from, date_to), *params.values)
    count = bucketing.count_buckets(row["first"], row["last"])
    if count > MAX_BUCKETS:
        raise BadUserInputError(
            f"the date range spans {count} {interval.value} buckets; at most {MAX_BUCKETS} are allowed"
        )
    return BucketRange(first=row["first"], last=row["last"], count=count)


def buckets_on_whole_hours(interval: Interval, timezone: str, buckets: BucketRange) -> bool:
    """Whether every bucket of the range starts on a whole UTC hour (so hourly rollups can fill it)."""
    if interval is Interval.MINUTE:
        return False
    if interval.is_absolute:  # hours: whole hours apart from the first bucket on
        return buckets.first == floor_hour(buckets.first)
    # Local calendar starts: on whole UTC hours where the zone's offset there is whole hours (either side
    # of a DST change landing on the start).
    zone = ZoneInfo(timezone)
    local = buckets.first
    while local <= buckets.last:
        if any(local.replace(tzinfo=zone, fold=fold).utcoffset() % _HOUR for fold in (0, 1)):
            return False
        if interval is Interval.MONTH:
            local = local.replace(year=local.year + local.month // 12, month=local.month % 12 + 1)
        else:
            local += timedelta(days=7 if interval is Interval.WEEK else 1)
    return True


def ceil_hour(value: datetime) -> datetime:
    floor = floor_hour(value)
    return floor if floor == value else floor + _HOUR


def floor_hour(value: datetime) -> datetime:
    """The whole UTC hour `value` lies in (rollups count absolute hours, whatever the project's zone)."""
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
