"""Alert rules as values: the watched series, the detector, the schedule, and their stored JSON forms.

A rule's series is one trends series (event, math, property, filters) and
optionally one breakdown value. A breakdown value is watched as the filter
that selects exactly that value's events (EQ on the property; IS_NOT_SET for
the events without it), which is what the breakdown series of that value
counts, and stays true when the value leaves the top N.

`series` and `detector` are stored as jsonb (storage/migrations/0013_alerts.sql);
`series_from_json`/`series_to_json` and `detector_from_json`/`detector_to_json`
convert, validating as they go (ValueError with a readable message).
"""

import enum
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from alerting.detectors import DetectorKind, DetectorParams, Direction
from query.analytics.filters import Operator, PropertyFilter, PropertyType
from query.analytics.get_trends import Math, SeriesSpec
from query.analytics.intervals import Interval


class RuleInterval(enum.Enum):
    """Bucket size of a rule's series (the trends intervals a detector can watch)."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @property
    def trends_interval(self) -> Interval:
        return Interval(self.value)

    @property
    def step(self) -> timedelta:
        return {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[self.value]

    @property
    def per_week(self) -> int:
        """Buckets per week: the seasonal detector's period."""
        return int(timedelta(weeks=1) / self.step)


@dataclass(frozen=True)
class BreakdownValue:
    key: str
    type: PropertyType = PropertyType.EVENT
    # None: the events that do not have the property.
    value: str | None = None


@dataclass(frozen=True)
class RuleSeries:
    event: str | None
    math: Math
    property_name: str | None = None
    filters: tuple[PropertyFilter, ...] = ()
    breakdown: BreakdownValue | None = None

    @property
    def label(self) -> str:
        base = self.event or "All events"
        math = "" if self.math is Math.TOTAL else f" ({self.math.name.lower()}"
        if math and self.property_name:
            math += f" of {self.property_name}"
        math += ")" if math else ""
        breakdown = "" if self.breakdown is None else f" where {self.breakdown.key} = {self.breakdown.value!r}"
        return f"{base}{math}{breakdown}"

    def to_spec(self) -> SeriesSpec:
        """The trends series that yields exactly this rule's values."""
        filters = list(self.filters)
        if self.breakdown is not None:
            if self.breakdown.value is None:
                filters.append(PropertyFilter(self.breakdown.key, Operator.IS_NOT_SET, None, self.breakdown.type))
            else:
                filters.append(PropertyFilter(self.breakdown.key, Operator.EQ, self.breakdown.value,
                                              self.breakdown.type))
        return SeriesSpec(event=self.event, math=self.math, property_name=self.property_name, filters=tuple(filters))


@dataclass(frozen=True)
class Rule:
    id: UUID
    project_id: UUID
    name: str
    series: RuleSeries
    interval: RuleInterval
    detector: DetectorParams
    evaluate_every_seconds: int = 60
    cooldown_seconds: int = 600
    channel_ids: tuple[UUID, ...] = ()
    enabled: bool = True


def series_to_json(series: RuleSeries) -> dict[str, Any]:
    return {
        "event": series.event,
        "math": series.math.value,
        "property": series.property_name,
        "filters": [{"key": item.key, "operator": item.operator.value, "value": item.value, "type": item.type.value}
                    for item in series.filters],
        "breakdown": None if series.breakdown is None else {
            "key": series.breakdown.key, "type": series.breakdown.type.value, "value": series.breakdown.value,
        },
    }


def series_from_json(data: dict[str, Any]) -> RuleSeries:
    try:
        breakdown = data.get("breakdown")
        return RuleSeries(
            event=data.get("event"),
            math=Math(data["math"]),
            property_name=data.get("property"),
            filters=tuple(
                PropertyFilter(item["key"], Operator(item["operator"]), item.get("value"),
                               PropertyType(item.get("type", "event")))
                for item in data.get("filters") or []
            ),
            breakdown=None if breakdown is None else BreakdownValue(
                breakdown["key"], PropertyType(breakdown.get("type", "event")), breakdown.get("value")
            ),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"invalid series: {error}") from None


def detector_to_json(params: DetectorParams) -> dict[str, Any]:
    data = asdict(params.with_defaults())
    data["kind"] = params.kind.value
    data["direction"] = params.direction.value
    return data


def detector_from_json(data: dict[str, Any]) -> DetectorParams:
    values = dict(data)
    try:
        values["kind"] = DetectorKind(values["kind"])
        values["direction"] = Direction(values.get("direction", "both"))
        return DetectorParams(**values)
    except (KeyError, TypeError) as error:
        raise ValueError(f"invalid detector: {error}") from None
