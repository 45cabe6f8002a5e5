"""The detectors on hand-made and generated series (fixed seeds): what fires, what does not, and why."""

import random

import pytest

from alerting.detectors import (
    DetectorKind,
    DetectorParams,
    Direction,
    ewma,
    relative_change,
    scan,
    seasonal,
    threshold,
    zscore,
)
from bench.alerting import run as run_bench
from bench.alerting import score
from tests.alerting.series import WEEK, baseline, generate, noisy


def test_threshold_fires_only_beyond_its_limit_on_its_side():
    above = DetectorParams(DetectorKind.THRESHOLD, Direction.UP, threshold=50)
    below = DetectorParams(DetectorKind.THRESHOLD, Direction.DOWN, threshold=5)
    assert threshold(51, above).firing and threshold(51, above).reason == "above"
    assert not threshold(50, above).firing
    assert threshold(0, below).firing and threshold(0, below).lower == 5
    assert not threshold(5, below).firing


def test_threshold_needs_a_limit_and_one_side():
    with pytest.raises(ValueError, match="threshold"):
        DetectorParams(DetectorKind.THRESHOLD, Direction.UP)
    with pytest.raises(ValueError, match="either above"):
        DetectorParams(DetectorKind.THRESHOLD, Direction.BOTH, threshold=3)


def test_relative_change_compares_with_the_previous_window():
    params = DetectorParams(DetectorKind.RELATIVE, change=0.5, window=2)
    assert relative_change([160, 140], [100, 100], params).reason == "above"
    assert relative_change([40, 50], [100, 100], params).reason == "below"
    assert not relative_change([120, 130], [100, 100], params).firing
    down_only = DetectorParams(DetectorKind.RELATIVE, Direction.DOWN, change=0.5)
    assert not relative_change([300], [100], down_only).firing


def test_tiny_counts_do_not_fire_below_the_minimum_volume():
    params = DetectorParams(DetectorKind.RELATIVE, change=0.5)
    verdict = relative_change([8], [2], params)  # +300 %, but 8 signups
    assert not verdict.firing and verdict.reason == "low_volume"
    night = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0] * 3
    assert zscore(night, 6, DetectorParams(DetectorKind.ZSCORE)).reason == "low_volume"
    assert zscore(night, 6, DetectorParams(DetectorKind.ZSCORE, min_volume=0)).firing


def test_a_drop_to_zero_from_real_volume_fires():
    rng = random.Random(1)
    history = [noisy(300, rng) for _ in range(24)]
    for kind in (DetectorKind.ZSCORE, DetectorKind.EWMA):
        verdict = (zscore if kind is DetectorKind.ZSCORE else ewma)(history, 0, DetectorParams(kind))
        assert verdict.firing and verdict.reason == "below", kind
        assert verdict.lower is not None and verdict.lower > 200


def test_rolling_detectors_fire_on_a_spike_but_not_on_ordinary_noise():
    rng = random.Random(7)
    values = [noisy(200, rng) for _ in range(24 * 14)]
    for kind in (DetectorKind.ZSCORE, DetectorKind.EWMA):
        params = DetectorParams(kind)
        quiet = scan(values, params, WEEK, start=48)
        assert sum(verdict.firing for verdict in quiet) <= len(quiet) // 50, kind  # 288 buckets of plain noise
        spiked = [*values[:200], 600.0]
        assert scan(spiked, params, WEEK, start=200)[0].reason == "above", kind


def test_a_flat_series_does_not_fire_on_a_tiny_wobble():
    verdict = zscore([100.0] * 24, 103, DetectorParams(DetectorKind.ZSCORE))
    assert not verdict.firing
    assert verdict.upper is not None and verdict.upper >= 115  # the spread floor (5 %, sqrt) keeps the band open


def test_ewma_accepts_a_new_level_sooner_than_the_z_score():
    rng = random.Random(3)
    values = [noisy(100, rng) for _ in range(96)] + [noisy(180, rng) for _ in range(48)]
    firing = {
        kind: [verdict.firing for verdict in scan(values, DetectorParams(kind, lookback=48), WEEK, start=96)]
        for kind in (DetectorKind.ZSCORE, DetectorKind.EWMA)
    }
    assert firing[DetectorKind.EWMA][0] and firing[DetectorKind.ZSCORE][0]  # both see the shift
    last_ewma = max(index for index, fired in enumerate(firing[DetectorKind.EWMA]) if fired)
    last_z = max(index for index, fired in enumerate(firing[DetectorKind.ZSCORE]) if fired)
    assert last_ewma < last_z < 48


def test_seasonal_baseline_ignores_one_bad_week():
    params = DetectorParams(DetectorKind.SEASONAL)
    for bad_week in (5000.0, 0.0):
        verdict = seasonal([100.0, 104.0, bad_week, 97.0], 103, params)
        assert not verdict.firing, bad_week
        assert verdict.expected is not None and 97 <= verdict.expected <= 104
    assert seasonal([100.0, 104.0, 5000.0, 97.0], 400, params).reason == "above"
    assert seasonal([100.0, 104.0, 0.0, 97.0], 5, params).reason == "below"


def test_seasonal_does_not_fire_on_an_ordinary_monday_morning_rise_that_the_z_score_flags():
    series = generate(seed=11, weeks=6, anomalies_per_week=0)  # seasonality and noise only
    monday = 5 * WEEK  # the sixth week's Monday, 00:00
    mornings = range(monday + 6, monday + 12)
    assert baseline(monday + 9) > 5 * baseline(monday + 5)  # the rise is real: 12 -> 100+
    z = scan(series.values, DetectorParams(DetectorKind.ZSCORE), WEEK, start=monday)
    assert any(z[index - monday].firing and z[index - monday].reason == "above" for index in mornings)
    week = scan(series.values, DetectorParams(DetectorKind.SEASONAL), WEEK, start=monday)
    assert not [index for index, verdict in enumerate(week[:24]) if verdict.firing]  # all of Monday is ordinary
    assert sum(verdict.firing for verdict in week) <= 2  # and the week as a whole is nearly quiet


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_seasonal_catches_injected_spikes_drops_and_level_shifts(seed: int):
    series = generate(seed)
    offset = 4 * WEEK
    result = score(series, scan(series.values, DetectorParams(DetectorKind.SEASONAL), WEEK, start=offset), offset)
    assert result["anomalies"] >= 12
    assert result["caught"] >= 0.8 * result["anomalies"]
    assert result["true_incidents"] >= 0.85 * result["incidents"]
    assert result["monday_morning_false_incidents"] == 0


def test_bench_reports_precision_and_recall_per_detector():
    report = run_bench(seeds=2, weeks=6)
    detectors = report["detectors"]
    assert set(detectors) == {"zscore", "ewma", "seasonal"}
    for result in detectors.values():
        assert 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    # The point of the seasonal baseline: far fewer false alarms at the start of the week.
    mondays = {name: result["monday_morning_false_incidents"] for name, result in detectors.items()}
    assert mondays["seasonal"] < mondays["zscore"]
    assert detectors["seasonal"]["recall"] > detectors["zscore"]["recall"]


def test_buckets_follow_the_trends_engine_across_a_daylight_saving_change():
    from datetime import UTC, datetime, timedelta

    from alerting.evaluation import last_complete_bucket, shift_buckets
    from alerting.rules import RuleInterval

    # Europe/Berlin leaves summer time at 03:00 local on 2026-10-25: 02:00-03:00 happens twice.
    now = datetime(2026, 10, 25, 2, 10, tzinfo=UTC)  # 03:10 local (winter time)
    hour = last_complete_bucket(now, RuleInterval.HOUR, "Europe/Berlin", timedelta(0))
    assert hour.astimezone(UTC) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # the second 02:00 local
    assert shift_buckets(hour, RuleInterval.HOUR, -1).astimezone(UTC) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    day = last_complete_bucket(now, RuleInterval.DAY, "Europe/Berlin", timedelta(0))
    assert day.astimezone(UTC) == datetime(2026, 10, 23, 22, 0, tzinfo=UTC)  # 24 October, local midnight
    assert shift_buckets(day, RuleInterval.DAY, 1).astimezone(UTC) == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
