"""GraphQL types of the funnel queries."""

from uuid import UUID

import strawberry

from query.analytics import get_funnel
from query.trends.types import PropertyFilterInput

FunnelMode = strawberry.enum(
    get_funnel.FunnelMode,
    name="FunnelMode",
    description=(
        "ORDERED: other events may happen between steps. STRICT: the event right after a step (the person's next"
        " non-bot event of any name, filtered out or not) must be the next step."
    ),
)


@strawberry.input(description="One step of a funnel: an event name and filters on that event.")
class FunnelStepInput:
    event: str
    filters: list[PropertyFilterInput] = strawberry.field(
        default_factory=list, description="Filters of this step only, ANDed with the query's filters."
    )

    def to_spec(self) -> get_funnel.FunnelStepSpec:
        return get_funnel.FunnelStepSpec(event=self.event, filters=tuple(item.to_filter() for item in self.filters))


@strawberry.type
class FunnelStep:
    event: str
    persons: int = strawberry.field(description="Persons whose furthest step is this one or a later one.")
    conversion_from_start: float = strawberry.field(description="persons / persons of step 1; 0 when that is 0.")
    conversion_from_previous: float = strawberry.field(
        description="persons / persons of the previous step; 0 when that is 0."
    )
    median_seconds_from_previous: float | None = strawberry.field(
        description="Over the persons who reached this step (their best attempt); null for step 1 or nobody."
    )
    average_seconds_from_previous: float | None = strawberry.field(
        description="Over the persons who reached this step (their best attempt); null for step 1 or nobody."
    )

    @classmethod
    def from_result(cls, step: get_funnel.FunnelStep) -> "FunnelStep":
        return cls(
            event=step.event,
            persons=step.persons,
            conversion_from_start=step.conversion_from_start,
            conversion_from_previous=step.conversion_from_previous,
            median_seconds_from_previous=step.median_seconds_from_previous,
            average_seconds_from_previous=step.average_seconds_from_previous,
        )


@strawberry.type(description="The funnel of the persons whose best attempt's step-1 event has one breakdown value.")
class FunnelBreakdownGroup:
    breakdown_value: str | None = strawberry.field(
        description="Null for Other and for step-1 events without the property."
    )
    is_other: bool
    steps: list[FunnelStep]


@strawberry.type
class Funnel:
    steps: list[FunnelStep] = strawberry.field(description="Every person, whatever the breakdown.")
    breakdown_groups: list[FunnelBreakdownGroup] = strawberry.field(
        description="With a breakdown: the top values by step-1 persons, then Other; empty without one."
    )

    @classmethod
    def from_result(cls, result: get_funnel.FunnelResult) -> "Funnel":
        return cls(
            steps=[FunnelStep.from_result(step) for step in result.steps],
            breakdown_groups=[
                FunnelBreakdownGroup(
                    breakdown_value=group.breakdown_value,
                    is_other=group.is_other,
                    steps=[FunnelStep.from_result(step) for step in group.steps],
                )
                for group in result.groups
            ],
        )


@strawberry.type
class FunnelDropoff:
    person_id: UUID | None = strawberry.field(description="Null for a distinct id that maps to no person.")
    distinct_ids: list[str]
    cursor: str


@strawberry.type
class FunnelDropoffPage:
    persons: list[FunnelDropoff]
    has_next_page: bool
    end_cursor: str | None
