"""Generated hourly series for the detector tests and `bench/alerting.py`.

A week of traffic looks like a SaaS product's: quiet nights, a business-day
hump (Monday's start is the steepest: from a weekend night straight into the
working day), quieter weekends, multiplicative noise plus count noise. Onto it
go labelled anomalies: one-hour spikes, drops (a bucket collapsing, or
purchases stopping for hours) and level shifts lasting a day. Everything is
seeded, so a run is reproducible.
"""

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WEEK = 168
"""Hourly buckets per week: the seasonal detector's period."""

START = datetime(2026, 1, 5, tzinfo=UTC)
"""A Monday, 00:00 UTC: bucket i is hour i % 24 of weekday (i // 24) % 7."""

DETECTION_SLACK = 3
"""A detector that fires within this many buckets after an anomaly starts has caught it."""


def baseline(index: int, level: float = 100.0) -> float:
    """The expected count of bucket `index`: the weekly shape, without noise."""
    day, hour = (index // 24) % 7, index % 24
    if day >= 5:  # the weekend: a low, flat-ish day
        return level * (0.15 + 0.10 * math.sin(math.pi * max(0, hour - 8) / 14) if 8 <= hour < 22 else 0.1)
    if 8 <= hour < 19:
        return level * (1.0 + 0.3 * math.sin(math.pi * (hour - 8) / 11))
    return level * (0.3 if 19 <= hour < 23 else 0.12)


@dataclass(frozen=True)
class Anomaly:
    kind: str  # "spike", "drop", "level_shift"
    start: int
    end: int  # exclusive: the buckets the anomaly changes

    @property
    def window(self) -> range:
        """Buckets where firing counts as catching this anomaly (its span and a little after)."""
        return range(self.start, self.end + DETECTION_SLACK)


@dataclass(frozen=True)
class GeneratedSeries:
    values: list[float]
    anomalies: list[Anomaly]
    seed: int

    def is_anomalous(self, index: int) -> bool:
        return any(index in anomaly.window for anomaly in self.anomalies)


def noisy(value: float, rng: random.Random, relative_noise: float = 0.08) -> float:
    """Multiplicative noise and count (Poisson-like) noise, never below zero, whole counts."""
    noised = value * (1 + rng.gauss(0, relative_noise)) + rng.gauss(0, math.sqrt(max(value, 1.0)))
    return float(max(0, round(noised)))


def generate(seed: int, weeks: int = 8, clean_weeks: int = 4, level: float = 100.0,
             anomalies_per_week: int = 4) -> GeneratedSeries:
    """`weeks` of hourly counts; the first `clean_weeks` are history without anomalies (the detectors' training)."""
    rng = random.Random(seed)
    length = weeks * WEEK
    expected = [baseline(index, level) for index in range(length)]
    anomalies: list[Anomaly] = []
    kinds = ("spike", "drop", "level_shift")
    taken: set[int] = set()
    for week in range(clean_weeks, weeks):
        for number in range(anomalies_per_week):
            kind = kinds[(week + number) % len(kinds)]
            for _ in range(100):
                # Busy hours only: an anomaly at 3 am on a Sunday is below any sane minimum volume.
                start = week * WEEK + rng.randrange(0, 5) * 24 + rng.randrange(9, 17)
                duration = {"spike": 1, "drop": rng.choice((1, 3)), "level_shift": 24}[kind]
                span = set(range(start - 6, start + duration + 6 + DETECTION_SLACK))
                if start + duration < length and not span & taken:
                    taken |= span
                    anomalies.append(Anomaly(kind, start, start + duration))
                    break
    for anomaly in anomalies:
        for index in range(anomaly.start, anomaly.end):
            if anomaly.kind == "spike":
                expected[index] *= rng.uniform(2.0, 3.0)
            elif anomaly.kind == "drop":
                expected[index] *= rng.uniform(0.0, 0.2)
            else:
                expected[index] *= rng.choice((0.4, 2.0))
    values = [noisy(value, rng) for value in expected]
    return GeneratedSeries(values, sorted(anomalies, key=lambda anomaly: anomaly.start), seed)


def bucket_time(index: int) -> datetime:
    return START + timedelta(hours=index)
