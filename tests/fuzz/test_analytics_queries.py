"""Fuzzing the analytics queries with well-formed arguments, so every example reaches their SQL.

Schema-driven generation (test_graphql.py) rarely gets a trends, funnel, retention or paths call past argument
checks: one malformed filter among many arguments refuses the whole call. Here the arguments have the right
shape and vary in everything else: date ranges from minutes to years (and odd offsets), every interval, math,
operator, filter value type, breakdown, mode and limit, against the sandbox's events. Same property as
test_graphql.py: below 500, every error has a code other than INTERNAL, and an answer within 20 s.
"""

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from graphql import GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType
from hypothesis import event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from query.schema import create_schema
from tests.fuzz.conftest import FUZZ
from tests.fuzz.graphql_sandbox import Sandbox
from tests.fuzz.strategies import rarely

_SCHEMA = create_schema()._schema
_EVENTS = ["signup", "purchase", "$pageview", "$identify", "clicked button", "never happened"]
_KEYS = ["plan", "amount", "name", "age", "$browser", "$country", "$pathname", "$utm_source", "missing", ""]


def _enum(name: str) -> st.SearchStrategy[str]:
    values = _SCHEMA.get_type(name)
    assert isinstance(values, GraphQLEnumType), name
    return st.sampled_from(list(values.values))


def _selection(type_, depth: int = 0) -> str:
    """Every field of the result type, to depth 3: the resolvers build all of it."""
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if not isinstance(type_, GraphQLObjectType):
        return ""
    fields = []
    for name, field in type_.fields.items():
        if field.args and any(isinstance(arg.type, GraphQLNonNull) for arg in field.args.values()):
            continue
        inner = field.type
        while isinstance(inner, GraphQLNonNull | GraphQLList):
            inner = inner.of_type
        if isinstance(inner, GraphQLObjectType):
            if depth < 2:
                fields.append(f"{name} {_selection(inner, depth + 1)}")
        else:
            fields.append(name)
    return "{ " + " ".join(fields) + " }"


def _document(field: str) -> str:
    definition = _SCHEMA.query_type.fields[field]
    variables = ", ".join(f"${name}: {argument.type}" for name, argument in definition.args.items())
    arguments = ", ".join(f"{name}: ${name}" for name in definition.args)
    return f"query({variables}) {{ {field}({arguments}) {_selection(definition.type)} }}"


def _offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


@st.composite
def date_ranges(draw: st.DrawFn) -> dict[str, str]:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=draw(rarely(st.integers(0, 60 * 86_400), st.integers(0, 3000 * 86_400))))
    length = draw(st.one_of(st.sampled_from([timedelta(minutes=1), timedelta(hours=1), timedelta(days=1),
                                             timedelta(days=7), timedelta(days=31)]),
                            st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400))))
    zone = _offset(draw(st.sampled_from([0, 0, 60, -300, 330, 345, -570, 840, -720])))
    return {"from": start.astimezone(zone).isoformat(), "to": (start + length).astimezone(zone).isoformat()}


FILTER_VALUES = st.one_of(st.sampled_from(["pro", "free", "Pro", "Chrome", "DE", "/pricing", "", "énterprise 🚀"]),
                          st.integers(-10, 1000), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                          st.none(), st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3))


def _fitting_value(filter_: dict, value: object, fits: bool) -> dict:
    """Mostly a value of the kind the operator takes (none, a list, one value), so the filter reaches SQL."""
    if fits:
        operator = filter_["operator"]
        value = None if operator in ("IS_SET", "IS_NOT_SET") else (
            value if isinstance(value, list) or operator != "IN" else [value])
        if operator not in ("IN", "IS_SET", "IS_NOT_SET") and (value is None or isinstance(value, list)):
            value = "pro"
    return {**filter_, "value": value}


FILTERS = st.lists(
    st.builds(_fitting_value,
              st.fixed_dictionaries({"key": st.sampled_from(_KEYS), "operator": _enum("FilterOperator"),
                                     "type": _enum("PropertyType")}),
              FILTER_VALUES, rarely(st.just(True), st.just(False), one_in=4)),
    max_size=2,
)
BREAKDOWNS = st.one_of(st.none(), st.fixed_dictionaries({"key": st.sampled_from(_KEYS),
                                                          "type": _enum("PropertyType")}))
EVENTS = st.sampled_from(_EVENTS)

def _counting_needs_no_property(series: dict) -> dict:
    if series["math"] in ("TOTAL", "UNIQUE_PERSONS") and series["property"] == "amount":
        return {**series, "property": None}
    return series


ARGUMENTS = {
    "trends": st.fixed_dictionaries({
        "series": st.lists(st.fixed_dictionaries({
            "event": st.one_of(st.none(), EVENTS), "math": _enum("Math"),
            "property": rarely(st.just("amount"), st.one_of(st.none(), st.sampled_from(_KEYS)), one_in=3),
            "filters": FILTERS}).map(_counting_needs_no_property), min_size=1, max_size=3),
        "interval": _enum("Interval"), "dateRange": date_ranges(), "filters": FILTERS, "breakdown": BREAKDOWNS,
        "breakdownLimit": st.integers(1, 25), "compare": st.booleans()}),
    "funnel": st.fixed_dictionaries({
        "steps": st.lists(st.fixed_dictionaries({"event": EVENTS, "filters": FILTERS}), min_size=2, max_size=4),
        "dateRange": date_ranges(), "windowSeconds": st.integers(1, 90 * 86_400), "mode": _enum("FunnelMode"),
        "filters": FILTERS, "breakdown": BREAKDOWNS, "breakdownLimit": st.integers(1, 25)}),
    "funnelDropoffs": None,  # filled below: the funnel's arguments plus the step
    "retention": st.fixed_dictionaries({
        "startEvent": EVENTS, "returnEvent": EVENTS, "period": _enum("RetentionPeriod"), "periods": st.integers(1, 24),
        "dateRange": date_ranges(), "mode": _enum("RetentionMode"), "startFilters": FILTERS,
        "returnFilters": FILTERS}),
    "paths": st.fixed_dictionaries({
        "dateRange": date_ranges(), "startEvent": EVENTS, "direction": _enum("PathDirection"),
        "depth": st.integers(1, 5), "limit": st.integers(1, 50)}),
    "topValues": st.fixed_dictionaries({
        "dateRange": date_ranges(), "dimension": _enum("TopDimension"), "event": st.one_of(st.none(), EVENTS),
        "property": st.one_of(st.none(), st.sampled_from(_KEYS)), "filters": FILTERS, "limit": st.integers(1, 100)}),
    "sessionsSummary": st.fixed_dictionaries({
        "dateRange": date_ranges(),
        "filters": st.lists(st.fixed_dictionaries({
            "dimension": _enum("SessionDimension"), "operator": _enum("FilterOperator"),
            "values": st.lists(st.sampled_from(["/", "/pricing", "Chrome", "DE", "google.com", ""]), max_size=2)}),
            max_size=2),
        "breakdown": st.one_of(st.none(), _enum("SessionDimension")), "breakdownLimit": st.integers(1, 25),
        "interval": st.one_of(st.none(), _enum("Interval")), "pagesLimit": st.integers(1, 20)}),
    "activeUsers": st.fixed_dictionaries({"dateRange": date_ranges(), "event": st.one_of(st.none(), EVENTS),
                                          "filters": FILTERS}),
}
_DROPOFF_ARGUMENTS = {name for name in _SCHEMA.query_type.fields["funnelDropoffs"].args} - {"projectId"}
ARGUMENTS["funnelDropoffs"] = st.tuples(ARGUMENTS["funnel"], st.integers(0, 4), st.integers(1, 50)).map(
    lambda drawn: {**{key: value for key, value in drawn[0].items() if key in _DROPOFF_ARGUMENTS},
                   "step": drawn[1], "first": drawn[2]})


@pytest.mark.parametrize("field", list(ARGUMENTS))
def test_analytics_query_with_well_formed_arguments_never_fails_unexpectedly(
    field: str, graphql_url: str, sandbox: Sandbox
):
    document = _document(field)

    @hypothesis_settings(FUZZ, max_examples=30)
    @given(arguments=ARGUMENTS[field])
    def call(arguments: dict) -> None:
        variables = {"projectId": str(sandbox.project_id), **arguments}
        response = httpx.post(f"{graphql_url}/graphql", json={"query": document, "variables": variables},
                              headers=sandbox.caller.headers, timeout=20)
        assert response.status_code < 500, response.text
        errors = response.json().get("errors") or ()
        for error in errors:
            code = (error.get("extensions") or {}).get("code")
            event(f"error code {code}")
            assert code and code != "INTERNAL", f"{error}\n{variables}"
        if not errors:
            event("answered")

    call()
