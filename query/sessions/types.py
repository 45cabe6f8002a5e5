"""GraphQL types of the sessions summary."""

from datetime import datetime

import strawberry

from query.analytics import get_sessions
from query.trends.types import FilterOperator

SessionDimension = strawberry.enum(
    get_sessions.SessionDimension,
    name="SessionDimension",
    description=(
        "A text attribute of a session. ENTRY_PAGE and EXIT_PAGE: the page (path, or screen name) of its first and"
        " last page or screen view, null without one; the others come from the session's first event."
    ),
)


@strawberry.input(description="A predicate on one session dimension; values are compared as text.")
class SessionFilterInput:
    dimension: SessionDimension
    operator: FilterOperator = strawberry.field(
        description=(
            "EQ, NEQ, CONTAINS, NOT_CONTAINS (one value), IN (1 to 100 values), IS_SET, IS_NOT_SET (no value)."
            " NEQ, NOT_CONTAINS and IS_NOT_SET match sessions without the dimension. GT and LT are refused."
        )
    )
    values: list[str] = strawberry.field(default_factory=list, description="The values the operator compares with.")

    def to_filter(self) -> get_sessions.SessionFilter:
        return get_sessions.SessionFilter(
            dimension=self.dimension, operator=self.operator, values=tuple(self.values)
        )


@strawberry.type(description="What a group of sessions looks like; averages are null for a group without sessions.")
class SessionStats:
    sessions: int = strawberry.field(description="Sessions that started in the group.")
    persons: int = strawberry.field(
        description=(
            "Distinct persons those sessions belong to. Asking for it (or for medianDurationSeconds) reads every"
            " session of the range; without both, unfiltered summaries add up hourly sums, much faster over long"
            " ranges."
        )
    )
    avg_duration_seconds: float | None = strawberry.field(
        description="Mean duration, first to last event (a one-event session lasts 0 s)."
    )
    median_duration_seconds: float | None = strawberry.field(
        description="Median duration (percentile_cont 0.5, interpolated). Reads every session of the range, as persons."
    )
    bounce_rate: float | None = strawberry.field(description="Fraction (0 to 1) of sessions with exactly one event.")
    pageviews_per_session: float | None = strawberry.field(description="Mean page and screen views per session.")
    events_per_session: float | None = strawberry.field(description="Mean events per session.")

    @classmethod
    def from_result(cls, result: get_sessions.SessionStats) -> "SessionStats":
        return cls(
            sessions=result.sessions,
            persons=result.persons,
            avg_duration_seconds=result.avg_duration_seconds,
            median_duration_seconds=result.median_duration_seconds,
            bounce_rate=result.bounce_rate,
            pageviews_per_session=result.pageviews_per_session,
            events_per_session=result.events_per_session,
        )


@strawberry.type(description="The sessions of one breakdown value, or of all values outside the top N (Other).")
class SessionBreakdownRow:
    value: str | None = strawberry.field(
        description="The dimension's value; null for sessions without it, and for Other."
    )
    is_other: bool = strawberry.field(description="True for the row summing every value outside the top N.")
    stats: SessionStats


@strawberry.type(description="The sessions that started in one time bucket.")
class SessionBucket:
    bucket: datetime = strawberry.field(description="Start of the bucket, in the project's timezone.")
    stats: SessionStats


@strawberry.type(description="The sessions that entered (or exited) on one page.")
class SessionPage:
    page: str = strawberry.field(description="The page path, or screen name.")
    stats: SessionStats


@strawberry.type(description="Sessions that started in the date range, as a whole and split several ways.")
class SessionsSummary:
    totals: SessionStats = strawberry.field(description="Every session of the range matching the filters.")
    breakdown: list[SessionBreakdownRow] = strawberry.field(
        description=(
            "Top breakdownLimit values by sessions (ties in code-point order), then Other if any session is left;"
            " empty without a breakdown."
        )
    )
    series: list[SessionBucket] = strawberry.field(
        description="Every bucket of the range, by session start; empty without an interval."
    )
    entry_pages: list[SessionPage] = strawberry.field(
        description="Top pagesLimit entry pages by sessions; sessions without a page view are left out."
    )
    exit_pages: list[SessionPage] = strawberry.field(
        description="Top pagesLimit exit pages by sessions; sessions without a page view are left out."
    )

    @classmethod
    def from_result(cls, result: get_sessions.SessionsSummary) -> "SessionsSummary":
        return cls(
            totals=SessionStats.from_result(result.totals),
            breakdown=[
                SessionBreakdownRow(value=row.value, is_other=row.is_other, stats=SessionStats.from_result(row.stats))
                for row in result.breakdown
            ],
            series=[
                SessionBucket(bucket=row.bucket, stats=SessionStats.from_result(row.stats)) for row in result.series
            ],
            entry_pages=[
                SessionPage(page=row.page, stats=SessionStats.from_result(row.stats)) for row in result.entry_pages
            ],
            exit_pages=[
                SessionPage(page=row.page, stats=SessionStats.from_result(row.stats)) for row in result.exit_pages
            ],
        )
