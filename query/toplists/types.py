"""GraphQL types of the top lists."""

import strawberry

from query.analytics import get_top_values

TopDimension = strawberry.enum(
    get_top_values.TopDimension,
    name="TopDimension",
    description=(
        "What a top list counts. PAGE: the page path of $pageview events. REFERRER_DOMAIN, COUNTRY, BROWSER,"
        " DEVICE_TYPE, OS, UTM_SOURCE: the enriched event columns. EVENT_PROPERTY: one property (given by"
        " `property`) of one event (given by `event`), as text: strings as they are, numbers and booleans as JSON."
    ),
)


@strawberry.type(description="Events and their distinct persons.")
class TopValueCounts:
    events: int = strawberry.field(description="Matching events (bots excluded).")
    persons: int = strawberry.field(description="Distinct persons of those events.")


@strawberry.type(description="One value of the dimension.")
class TopValue:
    value: str = strawberry.field(description="The value, as text; the empty string is a value of its own.")
    events: int = strawberry.field(description="Matching events with this value.")
    persons: int = strawberry.field(description="Distinct persons of those events.")


@strawberry.type(description="The most frequent values of a dimension over a date range.")
class TopValues:
    values: list[TopValue] = strawberry.field(
        description="Top `limit` values by events, ties in code-point order of the value."
    )
    without_value: TopValueCounts = strawberry.field(
        description="Matching events without a value (NULL column, or property missing or JSON null); never listed."
    )
    total: TopValueCounts = strawberry.field(
        description="Every matching event, listed or not, with or without a value."
    )

    @classmethod
    def from_result(cls, result: get_top_values.TopValues) -> "TopValues":
        return cls(
            values=[TopValue(value=row.value, events=row.events, persons=row.persons) for row in result.values],
            without_value=TopValueCounts(events=result.without_value.events, persons=result.without_value.persons),
            total=TopValueCounts(events=result.total.events, persons=result.total.persons),
        )
