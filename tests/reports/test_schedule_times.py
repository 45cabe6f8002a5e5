"""When scheduled reports run and what they cover, across daylight saving changes."""

from datetime import UTC, datetime

import pytest

from query.reports.schedule import Frequency, covered_range, next_run_after

BERLIN = "Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("after, expected", [
    (utc(2026, 3, 27, 12), utc(2026, 3, 28, 1)),    # 02:00 CET
    (utc(2026, 3, 28, 1), utc(2026, 3, 29, 1)),     # 02:00 does not exist on the 29th: 03:00 CEST, after the gap
    (utc(2026, 3, 29, 1), utc(2026, 3, 30, 0)),     # 02:00 CEST
    (utc(2026, 10, 24, 12), utc(2026, 10, 25, 0)),  # 02:00 happens twice on the 25th: the first (CEST)
    (utc(2026, 10, 25, 0), utc(2026, 10, 26, 1)),   # ...and only once: the next run is the 26th, 02:00 CET
])
def test_a_daily_run_keeps_its_wall_clock_hour_once_a_day_across_dst(after: datetime, expected: datetime) -> None:
    assert next_run_after(Frequency.DAILY, None, 2, BERLIN, after) == expected


def test_a_run_is_strictly_after_the_given_instant() -> None:
    at = utc(2026, 6, 1, 6)  # 08:00 CEST
    assert next_run_after(Frequency.DAILY, None, 8, BERLIN, at) == utc(2026, 6, 2, 6)
    assert next_run_after(Frequency.DAILY, None, 8, BERLIN, utc(2026, 6, 1, 5, 59)) == at


def test_a_weekly_run_falls_on_its_weekday_in_the_project_timezone() -> None:
    # Sunday 23:30 UTC is already Monday in Tokyo: Monday 07:00 Tokyo is Sunday 22:00 UTC, before it.
    run = next_run_after(Frequency.WEEKLY, 0, 7, "Asia/Tokyo", utc(2026, 11, 1, 23, 30))
    assert run == utc(2026, 11, 8, 22)
    assert next_run_after(Frequency.WEEKLY, 0, 7, "Asia/Tokyo", utc(2026, 11, 1, 21)) == utc(2026, 11, 1, 22)


def test_ranges_are_whole_local_days_of_23_24_or_25_hours() -> None:
    start, end = covered_range(Frequency.DAILY, utc(2026, 10, 26, 7), BERLIN)
    assert (start, end) == (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))  # 25 hours
    start, end = covered_range(Frequency.DAILY, utc(2026, 3, 30, 6), BERLIN)
    assert (start, end) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))  # 23 hours
    # Monday Nov 2, 08:00 CET: the seven days Monday Oct 26 to Sunday Nov 1.
    start, end = covered_range(Frequency.WEEKLY, utc(2026, 11, 2, 7), BERLIN)
    assert (start, end) == (utc(2026, 10, 25, 23), utc(2026, 11, 1, 23))
