"""Detectors: pure functions deciding whether one point of a series is alarming.

A rule watches one trends series, bucketed by its interval. At each evaluation
the engine hands a detector the value of the latest complete bucket and the
history it asks for; the detector answers a `Verdict`: firing or not, and the
range it expected, for the notice ("expected 40-60, got 212").

    THRESHOLD   value above (UP) or below (DOWN) a fixed number.
    RELATIVE    mean of the last `window` buckets vs the `window` before, changed by at least
                `change` (0.5 = 50 %) up, down or either way.
    ZSCORE      rolling z-score: the value against the mean and standard deviation of the
                previous `lookback` buckets; fires beyond `sensitivity` deviations.
    EWMA        exponentially weighted moving average with control limits: centre line and
                spread are the EWMA (`alpha`) of the previous `lookback` buckets and of their
                squared deviations; fires outside centre +- `sensitivity` x spread. Recent
                buckets weigh most, so after a level shift it accepts the new level sooner.
    SEASONAL    the same hour-of-week (same slot one period earlier) over the last `weeks`
                periods: median and MAD, so one bad week moves neither; fires beyond
                `sensitivity` robust deviations.

Minimum volume: an anomaly needs the value or its expectation to reach
`min_volume` (default 10), so 1 -> 4 signups at night never wakes anyone up,
while a drop from 300 to 0 does. Thresholds are the user's own numbers and
ignore it.

Spread floors: counts are noisy, and a flat history has no spread at all, so
every spread is at least `max(1, 5 % of the expected value, sqrt(expected))`
(the last is Poisson noise of a count): a flat series of 100 does not fire
on 103.

`scan` runs a detector over a whole regular series, as the backtest and the
benchmark do. No numpy: plain Python and `statistics`.
"""

import enum
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace


class DetectorKind(enum.Enum):
    THRESHOLD = "threshold"
    RELATIVE = "relative"
    ZSCORE = "zscore"
    EWMA = "ewma"
    SEASONAL = "seasonal"


class Direction(enum.Enum):
    UP = "up"
    DOWN = "down"
    BOTH = "both"


DEFAULT_MIN_VOLUME = 10.0
"""An anomaly fires only if the value or its expectation reaches this many (events, persons, ...)."""

DEFAULT_SENSITIVITY = {DetectorKind.ZSCORE: 3.0, DetectorKind.EWMA: 3.0, DetectorKind.SEASONAL: 4.0}
"""Deviations beyond which each anomaly detector fires. The seasonal baseline has few points (one per week),
and its robust spread is estimated from them, so it needs a wider band for the same false-alarm rate."""

DEFAULT_LOOKBACK = {DetectorKind.ZSCORE: 24, DetectorKind.EWMA: 48}
"""Buckets of history the rolling detectors learn from: a day of hours for the z-score, two for the EWMA."""

DEFAULT_ALPHA = 0.1
"""EWMA weight of the newest bucket; about the last 2 / alpha buckets matter."""

DEFAULT_WEEKS = 4
"""Periods (weeks) the seasonal baseline looks back over."""

DEFAULT_CHANGE = 0.5
"""Relative change that fires: 50 %."""

MAD_TO_SIGMA = 1.4826
"""MAD x this estimates the standard deviation of normally distributed data."""


@dataclass(frozen=True)
class DetectorParams:
    """A detector and its settings; `None` means the documented default of the kind."""

    kind: DetectorKind
    direction: Direction = Direction.BOTH
    # THRESHOLD: the limit; UP fires above it, DOWN below it (BOTH is not meaningful and refused).
    threshold: float | None = None
    # RELATIVE: the fraction of change that fires, and how many buckets each compared window holds.
    change: float = DEFAULT_CHANGE
    window: int = 1
    # ZSCORE, EWMA, SEASONAL: deviations beyond which they fire.
    sensitivity: float | None = None
    lookback: int | None = None
    alpha: float = DEFAULT_ALPHA
    weeks: int = DEFAULT_WEEKS
    min_volume: float = DEFAULT_MIN_VOLUME

    def __post_init__(self) -> None:
        if self.kind is DetectorKind.THRESHOLD:
            if self.threshold is None or not math.isfinite(self.threshold):
                raise ValueError("a threshold detector needs a finite threshold")
            if self.direction is Direction.BOTH:
                raise ValueError("a threshold detector fires either above (UP) or below (DOWN) its threshold")
        if not 0 < self.change <= 100:
            raise ValueError("change must be a fraction above 0 (0.5 = 50 %), at most 100")
        if not 1 <= self.window <= 1000:
            raise ValueError("window must be between 1 and 1000 buckets")
        if self.sensitivity is not None and not 0.5 <= self.sensitivity <= 20:
            raise ValueError("sensitivity must be between 0.5 and 20 deviations")
        if self.lookback is not None and not 3 <= self.lookback <= 1000:
            raise ValueError("lookback must be between 3 and 1000 buckets")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be between 0 and 1 (exclusive)")
        if not 2 <= self.weeks <= 12:
            raise ValueError("weeks must be between 2 and 12")
        if not 0 <= self.min_volume <= 1e12:
            raise ValueError("min_volume must be at least 0")

    @property
    def effective_sensitivity(self) -> float:
        return self.sensitivity if self.sensitivity is not None else DEFAULT_SENSITIVITY.get(self.kind, 3.0)

    @property
    def effective_lookback(self) -> int:
        return self.lookback if self.lookback is not None else DEFAULT_LOOKBACK.get(self.kind, 24)

    def with_defaults(self) -> "DetectorParams":
        """The same detector with every default written out, as stored with a rule."""
        return replace(self, sensitivity=self.effective_sensitivity, lookback=self.effective_lookback)


@dataclass(frozen=True)
class Verdict:
    firing: bool
    value: float
    # What the detector expected and the band it accepts; None where it has no opinion (threshold's far side).
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    # Why: "above", "below" (firing); "normal", "low_volume", "no_history" (not firing).
    reason: str = "normal"


def _floored_spread(spread: float, expected: float) -> float:
    return max(spread, 1.0, 0.05 * abs(expected), math.sqrt(abs(expected)))


def _band_verdict(value: float, expected: float, spread: float, params: DetectorParams) -> Verdict:
    """Fire when `value` leaves expected +- sensitivity x spread on a watched side, with enough volume."""
    width = params.effective_sensitivity * _floored_spread(spread, expected)
    lower, upper = expected - width, expected + width
    reason = "normal"
    if value > upper and params.direction is not Direction.DOWN:
        reason = "above"
    elif value < lower and params.direction is not Direction.UP:
        reason = "below"
    if reason != "normal" and max(value, expected) < params.min_volume:
        reason = "low_volume"
    return Verdict(reason in ("above", "below"), value, expected, max(lower, 0.0) if expected >= 0 else lower,
                   upper, reason)


def threshold(value: float, params: DetectorParams) -> Verdict:
    limit = params.threshold
    assert limit is not None  # DetectorParams
    if params.direction is Direction.UP:
        return Verdict(value > limit, value, None, None, limit, "above" if value > limit else "normal")
    return Verdict(value < limit, value, None, limit, None, "below" if value < limit else "normal")


def relative_change(current: Sequence[float], previous: Sequence[float], params: DetectorParams) -> Verdict:
    """The mean of `current` against the mean of `previous` (the window just before)."""
    value = statistics.fmean(current) if current else 0.0
    if not previous:
        return Verdict(False, value, reason="no_history")
    expected = statistics.fmean(previous)
    lower, upper = expected * (1 - params.change), expected * (1 + params.change)
    reason = "normal"
    if value >= upper and value > expected and params.direction is not Direction.DOWN:
        reason = "above"
    elif value <= lower and value < expected and params.direction is not Direction.UP:
        reason = "below"
    if reason != "normal" and max(value, expected) < params.min_volume:
        reason = "low_volume"
    return Verdict(reason in ("above", "below"), value, expected, max(lower, 0.0), upper, reason)


def zscore(history: Sequence[float], value: float, params: DetectorParams) -> Verdict:
    """`value` against the mean and standard deviation of `history` (the previous `lookback` buckets)."""
    if len(history) < 3:
        return Verdict(False, value, reason="no_history")
    mean = statistics.fmean(history)
    return _band_verdict(value, mean, statistics.pstdev(history, mean), params)


def ewma(history: Sequence[float], value: float, params: DetectorParams) -> Verdict:
    """`value` against the EWMA control band of `history`, oldest first."""
    if len(history) < 3:
        return Verdict(False, value, reason="no_history")
    alpha = params.alpha
    # Seeded with the plain mean and variance of the first few points, so the band starts sensible.
    seed = history[: max(3, min(len(history), round(1 / alpha)))]
    centre = statistics.fmean(seed)
    variance = statistics.pvariance(seed, centre)
    for point in history[len(seed):]:
        deviation = point - centre
        centre += alpha * deviation
        variance = (1 - alpha) * (variance + alpha * deviation * deviation)
    return _band_verdict(value, centre, math.sqrt(variance), params)


def seasonal(same_slot: Sequence[float], value: float, params: DetectorParams) -> Verdict:
    """`value` against the values of the same slot (hour-of-week) in previous periods, newest or oldest first."""
    if len(same_slot) < 2:
        return Verdict(False, value, reason="no_history")
    median = statistics.median(same_slot)
    mad = statistics.median(abs(point - median) for point in same_slot)
    return _band_verdict(value, median, MAD_TO_SIGMA * mad, params)


def history_needed(params: DetectorParams, period: int) -> int:
    """Buckets before the evaluated one that `scan` (and the engine) must read; `period` is buckets per week."""
    match params.kind:
        case DetectorKind.THRESHOLD:
            return 0
        case DetectorKind.RELATIVE:
            return 2 * params.window - 1
        case DetectorKind.ZSCORE | DetectorKind.EWMA:
            return params.effective_lookback
        case DetectorKind.SEASONAL:
            return params.weeks * period


def evaluate_at(values: Sequence[float], index: int, params: DetectorParams, period: int) -> Verdict:
    """The verdict on `values[index]`, from the points before it (as many as exist, up to what it needs)."""
    value = values[index]
    match params.kind:
        case DetectorKind.THRESHOLD:
            return threshold(value, params)
        case DetectorKind.RELATIVE:
            window = params.window
            current = values[max(0, index - window + 1): index + 1]
            previous = values[max(0, index - 2 * window + 1): max(0, index - window + 1)]
            if len(previous) < window:
                return Verdict(False, statistics.fmean(current), reason="no_history")
            return relative_change(current, previous, params)
        case DetectorKind.ZSCORE:
            return zscore(values[max(0, index - params.effective_lookback): index], value, params)
        case DetectorKind.EWMA:
            return ewma(values[max(0, index - params.effective_lookback): index], value, params)
        case DetectorKind.SEASONAL:
            same_slot = [values[index - k * period] for k in range(1, params.weeks + 1) if index - k * period >= 0]
            return seasonal(same_slot, value, params)


def scan(values: Sequence[float], params: DetectorParams, period: int, start: int = 0) -> list[Verdict]:
    """The verdict on every point from `start` on, each judged only by the points before it."""
    return [evaluate_at(values, index, params, period) for index in range(start, len(values))]
