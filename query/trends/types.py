"""GraphQL types of the trends query."""

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from query.analytics import filters, get_trends, intervals

Interval = strawberry.enum(intervals.Interval, name="Interval", description="Bucket size, in the project's timezone.")
Math = strawberry.enum(
    get_trends.Math,
    name="Math",
    description=(
        "What a series measures in each bucket. TOTAL: events; UNIQUE_PERSONS: distinct persons;"
        " SUM, AVG, MIN, MAX, P50, P90 (percentile_cont): of a numeric event property, over the events where it"
        " is a JSON number. A bucket without events is 0 for every math."
    ),
)
FilterOperator = strawberry.enum(
    filters.Operator,
    name="FilterOperator",
    description=(
        "EQ/NEQ: a string value matches the property's text form, a number numerically, a boolean as JSON boolean;"
        " NEQ, NOT_CONTAINS and IS_NOT_SET match events without the property. CONTAINS: case-sensitive substring."
        " GT/LT: numbers only. IN: a list of values, compared as text."
    ),
)
PropertyType = strawberry.enum(
    filters.PropertyType,
    name="PropertyType",
    description=(
        "EVENT: a key of the event's properties, or one of the enriched columns "
        + ", ".join(filters.TYPED_COLUMNS)
        + "; PERSON: a trait of the event's person."
    ),
)


@strawberry.input(description="A predicate on one event or person property.")
class PropertyFilterInput:
    key: str
    operator: FilterOperator
    value: JSON | None = strawberry.field(
        default=None, description="A string, number or boolean; a list for IN; null for IS_SET and IS_NOT_SET."
    )
    type: PropertyType = PropertyType.EVENT  # type: ignore[assignment]

    def to_filter(self) -> filters.PropertyFilter:
        return filters.PropertyFilter(key=self.key, operator=self.operator, value=self.value, type=self.type)


@strawberry.input(description="The property a trends query is broken down by.")
class BreakdownInput:
    key: str
    type: PropertyType = PropertyType.EVENT  # type: ignore[assignment]


@strawberry.input(description="One line of a trends chart.")
class SeriesInput:
    event: str | None = strawberry.field(default=None, description="Event name; null means all events.")
    math: Math
    property: str | None = strawberry.field(
        default=None, description="Numeric property for property maths; must be null for TOTAL and UNIQUE_PERSONS."
    )
    filters: list[PropertyFilterInput] = strawberry.field(
        default_factory=list, description="Filters of this series only, ANDed with the query's filters."
    )

    def to_spec(self) -> get_trends.SeriesSpec:
        return get_trends.SeriesSpec(
            event=self.event,
            math=self.math,
            property_name=self.property,
            filters=tuple(item.to_filter() for item in self.filters),
        )


@strawberry.input(description="The half-open range [from, to).")
class DateRangeInput:
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.type
class TrendPoint:
    bucket: datetime = strawberry.field(description="Start of the bucket, in the project's timezone.")
    value: float = strawberry.field(description="The series' math over the bucket's events; 0 when it has none.")


@strawberry.type
class TrendSeries:
    label: str = strawberry.field(description='The event name, or "All events".')
    points: list[TrendPoint]
    breakdown_value: str | None = strawberry.field(
        default=None,
        description="The breakdown value of this series; null without a breakdown, for Other, and for the events"
        " that do not have the property.",
    )
    is_other: bool = strawberry.field(
        default=False, description="True for the series summing every breakdown value outside the top N."
    )
    compare: bool = strawberry.field(
        default=False,
        description="True for the previous period: its points use the current period's buckets, each holding the"
        " events of exactly one period length earlier.",
    )

    @classmethod
    def from_result(cls, result: get_trends.TrendSeries) -> "TrendSeries":
        return cls(
            label=result.label,
            points=[TrendPoint(bucket=point.bucket, value=point.value) for point in result.points],
            breakdown_value=result.breakdown_value,
            is_other=result.is_other,
            compare=result.compare,
        )
