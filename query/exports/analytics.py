"""Analytics answers as CSV rows: trends, funnel, retention, active users, sessions, top values, alert backtest.

An export runs the GraphQL field of the same name through the schema itself, with the posted variables:
the same argument types, defaults, validation, permission classes, tenant check and analytics function as
a GraphQL client gets, by construction. The operation is built from the field's own arguments (every
argument a variable, optional when the field has a default), so it follows the schema as it changes.
The answers are small (bounded by buckets, steps or limits), so they are flattened in memory: one row per
point, step, cohort period, day, statistics group or value; times in the project's timezone with their offset.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import strawberry
from graphql import GraphQLNonNull, Undefined

from query.context import QueryContext
from query.errors import BadUserInputError, QueryError

Flatten = Callable[[Any, ZoneInfo], Iterator[tuple[Any, ...]]]

_STATS = "sessions persons avgDurationSeconds medianDurationSeconds bounceRate pageviewsPerSession eventsPerSession"
_STATS_HEADER = tuple(_STATS.split())
_STEP = "event persons conversionFromStart conversionFromPrevious medianSecondsFromPrevious averageSecondsFromPrevious"
_STEP_HEADER = tuple(_STEP.split())


@dataclass(frozen=True)
class AnalyticsExport:
    field: str
    selection: str
    header: tuple[str, ...]
    flatten: Flatten


def _local(value: str | None, zone: ZoneInfo) -> str | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(zone).isoformat()


def _cell(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def _trends(answer: list[dict], zone: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    for index, series in enumerate(answer, start=1):
        for point in series["points"]:
            yield (index, series["label"], series["breakdownValue"], _cell(series["isOther"]),
                   _cell(series["compare"]), _local(point["bucket"], zone), point["value"])


def _steps(group: str, value: str | None, is_other: bool, steps: list[dict]) -> Iterator[tuple[Any, ...]]:
    for number, step in enumerate(steps, start=1):
        yield (group, value, _cell(is_other), number, *(step[name] for name in _STEP_HEADER))


def _funnel(answer: dict, zone: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    yield from _steps("all", None, False, answer["steps"])
    for group in answer["breakdownGroups"]:
        yield from _steps("breakdown", group["breakdownValue"], group["isOther"], group["steps"])


def _retention(answer: list[dict], zone: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    for cohort in answer:
        for value in cohort["values"]:
            yield (_local(cohort["cohortStart"], zone), cohort["size"], value["period"],
                   _local(value["periodStart"], zone), value["count"], value["fraction"])


def _active_users(answer: list[dict], zone: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    for day in answer:
        yield (_local(day["day"], zone), day["dau"], day["wau"], day["mau"], day["stickiness"])


def _stats_row(section: str, value: str | None, is_other: bool, stats: dict) -> tuple[Any, ...]:
    return (section, value, _cell(is_other), *(stats[name] for name in _STATS_HEADER))


def _sessions(answer: dict, zone: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    yield _stats_row("totals", None, False, answer["totals"])
    for row in answer["breakdown"]:
        yield _stats_row("breakdown", row["value"], row["isOther"], row["stats"])
    for bucket in answer["series"]:
        yield _stats_row("series", _local(bucket["bucket"], zone), False, bucket["stats"])
    for section in ("entryPages", "exitPages"):
        for page in answer[section]:
            yield _stats_row(section, page["page"], False, page["stats"])


def _top_values(answer: dict, zone: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    for row in answer["values"]:
        yield ("value", row["value"], row["events"], row["persons"])
    for section in ("withoutValue", "total"):
        yield (section, None, answer[section]["events"], answer[section]["persons"])


def _backtest(answer: dict, zone: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    for point in answer["points"]:
        yield (_local(point["bucket"], zone), point["value"], _cell(point["firing"]), point["expected"],
               point["lower"], point["upper"], point["reason"])


EXPORTS: Mapping[str, AnalyticsExport] = {
    "trends": AnalyticsExport(
        "trends", "label breakdownValue isOther compare points { bucket value }",
        ("series", "label", "breakdownValue", "isOther", "compare", "bucket", "value"), _trends),
    "funnel": AnalyticsExport(
        "funnel", f"steps {{ {_STEP} }} breakdownGroups {{ breakdownValue isOther steps {{ {_STEP} }} }}",
        ("group", "breakdownValue", "isOther", "step", *_STEP_HEADER), _funnel),
    "retention": AnalyticsExport(
        "retention", "cohortStart size values { period periodStart count fraction }",
        ("cohortStart", "size", "period", "periodStart", "count", "fraction"), _retention),
    "activeUsers": AnalyticsExport(
        "activeUsers", "day dau wau mau stickiness", ("day", "dau", "wau", "mau", "stickiness"), _active_users),
    "sessions": AnalyticsExport(
        "sessionsSummary",
        f"totals {{ {_STATS} }} breakdown {{ value isOther stats {{ {_STATS} }} }}"
        f" series {{ bucket stats {{ {_STATS} }} }} entryPages {{ page stats {{ {_STATS} }} }}"
        f" exitPages {{ page stats {{ {_STATS} }} }}",
        ("section", "value", "isOther", *_STATS_HEADER), _sessions),
    "topValues": AnalyticsExport(
        "topValues", "values { value events persons } withoutValue { events persons } total { events persons }",
        ("section", "value", "events", "persons"), _top_values),
    "backtest": AnalyticsExport(
        "backtestAlert", "points { bucket value firing expected lower upper reason }",
        ("bucket", "value", "firing", "expected", "lower", "upper", "reason"), _backtest),
}
"""By the name in the URL (`/export/<name>.csv`)."""


class _GraphQLFailure(QueryError):
    """An error of the GraphQL execution without a code of ours (a variable that does not fit its type)."""

    code = "BAD_USER_INPUT"


def _operation(schema: strawberry.Schema, export: AnalyticsExport) -> tuple[str, frozenset[str]]:
    """The query running `export.field` with every argument a variable, and the argument names."""
    query_type = schema._schema.query_type
    assert query_type is not None
    arguments = query_type.fields[export.field].args
    variables = []
    for name, argument in arguments.items():
        graphql_type = argument.type
        if argument.default_value is not Undefined and isinstance(graphql_type, GraphQLNonNull):
            graphql_type = graphql_type.of_type  # optional in the request; the field's default applies
        variables.append(f"${name}: {graphql_type}")
    passed = ", ".join(f"{name}: ${name}" for name in arguments)
    document = f"query Export({', '.join(variables)}) {{ answer: {export.field}({passed}) {{ {export.selection} }} }}"
    return document, frozenset(arguments)


class AnalyticsExporter:
    """Runs the analytics exports against one schema; operations are built once."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.schema = schema
        self.operations = {name: _operation(schema, export) for name, export in EXPORTS.items()}

    async def rows(
        self, name: str, variables: dict[str, Any], context: QueryContext, timezone: str
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """The export's header and rows; QueryError (with the GraphQL error's code) when GraphQL refuses it."""
        export = EXPORTS[name]
        document, known = self.operations[name]
        unknown = sorted(set(variables) - known)
        if unknown:
            raise BadUserInputError(f"unknown variables for {export.field}: {', '.join(unknown)}")
        result = await self.schema.execute(document, variable_values=variables, context_value=context,
                                           operation_name="Export")
        if result.errors:
            error = result.errors[0]
            original = error.original_error
            if isinstance(original, QueryError):
                raise original
            failure = _GraphQLFailure(error.message)
            code = (error.extensions or {}).get("code")
            if code is None or error.message == "Unexpected error.":
                raise RuntimeError(f"{export.field} export failed: {error.message}")
            failure.code = str(code)  # type: ignore[misc]
            raise failure
        assert result.data is not None
        return export.header, list(export.flatten(result.data["answer"], ZoneInfo(timezone)))
