"""GraphQL types of the retention and active-users queries."""

from datetime import datetime

import strawberry

from query.analytics import get_active_users, get_retention

RetentionPeriod = strawberry.enum(
    get_retention.RetentionPeriod,
    name="RetentionPeriod",
    description="Cohort and retention period, a calendar period in the project's timezone (weeks start Monday).",
)
RetentionMode = strawberry.enum(
    get_retention.RetentionMode,
    name="RetentionMode",
    description=(
        "FIRST_TIME: a person's cohort is the period of their first-ever start event (a person who first did it"
        " before the range is in no cohort). RECURRING: every period with a start event is a cohort of theirs."
    ),
)


@strawberry.type
class RetentionValue:
    period: int = strawberry.field(description="k: periods after the cohort's own period (0 = the same period).")
    period_start: datetime = strawberry.field(description="Start of period k, in the project's timezone.")
    count: int = strawberry.field(description="Persons of the cohort with a return event in period k.")
    fraction: float = strawberry.field(description="count / cohort size; 0 for an empty cohort.")


@strawberry.type
class RetentionCohort:
    cohort_start: datetime = strawberry.field(description="Start of the cohort's period, in the project's timezone.")
    size: int = strawberry.field(description="Persons in the cohort.")
    values: list[RetentionValue] = strawberry.field(
        description="k = 0..periods-1; periods that have not begun yet are left out."
    )

    @classmethod
    def from_result(cls, result: get_retention.RetentionCohort) -> "RetentionCohort":
        return cls(
            cohort_start=result.cohort_start,
            size=result.size,
            values=[
                RetentionValue(
                    period=value.period, period_start=value.period_start, count=value.count, fraction=value.fraction
                )
                for value in result.values
            ],
        )


@strawberry.type
class ActiveUsersDay:
    day: datetime = strawberry.field(description="Local midnight starting the day, in the project's timezone.")
    dau: int = strawberry.field(description="Distinct persons active that day.")
    wau: int = strawberry.field(description="Distinct persons active in the 7 days ending that day.")
    mau: int = strawberry.field(description="Distinct persons active in the 30 days ending that day.")
    stickiness: float = strawberry.field(description="dau / mau; 0 when mau is 0.")

    @classmethod
    def from_result(cls, result: get_active_users.ActiveUsersDay) -> "ActiveUsersDay":
        return cls(day=result.day, dau=result.dau, wau=result.wau, mau=result.mau, stickiness=result.stickiness)
