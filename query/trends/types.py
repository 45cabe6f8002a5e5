"""GraphQL types of the trends query."""

from datetime import datetime

import strawberry

from query.analytics import get_trends, intervals

Interval = strawberry.enum(intervals.Interval, name="Interval", description="Bucket size, in the project's timezone.")
Math = strawberry.enum(get_trends.Math, name="Math", description="What a series measures in each bucket.")


@strawberry.input(description="One line of a trends chart.")
class SeriesInput:
    event: str | None = strawberry.field(default=None, description="Event name; null means all events.")
    math: Math
    property: str | None = strawberry.field(
        default=None, description="Numeric property for property maths; must be null for TOTAL."
    )


@strawberry.input(description="The half-open range [from, to).")
class DateRangeInput:
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.type
class TrendPoint:
    bucket: datetime = strawberry.field(description="Start of the bucket, in the project's timezone.")
    value: float


@strawberry.type
class TrendSeries:
    label: str = strawberry.field(description='The event name, or "All events".')
    points: list[TrendPoint]

    @classmethod
    def from_result(cls, result: get_trends.TrendSeries) -> "TrendSeries":
        return cls(
            label=result.label,
            points=[TrendPoint(bucket=point.bucket, value=point.value) for point in result.points],
        )
