"""Fuzzing the GraphQL API with schemathesis: every query and mutation, generated from the served schema.

Run against a real query service as the ADMIN of a throwaway organization whose project holds events and
persons (tests/fuzz/graphql_sandbox.py). Generated ids are sometimes those of the sandbox's real project,
organization, user and persons, so resolvers get past "not found" and do real work.

Property, for every generated operation: the HTTP status is below 500, and every GraphQL error carries an
`extensions.code` other than INTERNAL. An unexpected exception in a resolver is masked by query/schema.py
(MaskErrors) into "Unexpected error." with no code at all, so a missing code is how a crash shows here.

Not fuzzed:
- subscriptions: they run over WebSocket, which schemathesis' GraphQL support does not speak;
- mutations that would make the rest of the run test nothing, or reach outside the sandbox:
  `logout` and `removeMember` / `setMemberRole` (given the caller's own id they end, remove or demote the
  caller, and every later operation answers UNAUTHENTICATED or FORBIDDEN), `deleteProject` (given the
  sandbox's project id it deletes the events every query reads), and `testChannel`, `testDestination`,
  `sendReportNow` (they send email or HTTP requests to generated addresses).
"""

from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes

from query.schema import create_schema
from tests.fuzz.conftest import FUZZ
from tests.fuzz.graphql_sandbox import Sandbox
from tests.fuzz.strategies import rarely

EXCLUDED = ["logout", "removeMember", "setMemberRole", "deleteProject", "testChannel", "testDestination",
            "sendReportNow"]

KNOWN_IDS: list[str] = []
"""The sandbox's real ids; filled by the `graphql_schema` fixture before any value is generated."""

# Built-in scalars too: mostly values that get past argument checks (a real id, a page size, an event name the
# sandbox has, a date near its events), so most operations reach the resolver's queries; rarely anything at all.
_EDGE_IDS = ["", " ", "0", "-1", "00000000-0000-0000-0000-000000000000", "\x00"]


def _id(roll: int, known: int, other: str) -> str:
    # A value picked by a roll, not by sampling the few real ids: Hypothesis avoids drawing a value it has
    # drawn before, so a sampled real id would show up once or twice and then hardly again.
    if roll < 5:
        return KNOWN_IDS[0]  # the project: most operations take a projectId
    if roll < 7:
        return KNOWN_IDS[known % len(KNOWN_IDS)]
    return other


_ids = st.builds(_id, st.integers(0, 9), st.integers(0, 20),
                 st.one_of(st.uuids().map(str), st.sampled_from(_EDGE_IDS), st.text(max_size=40)))
_ints = rarely(st.integers(-2, 300), st.integers(-(2**31), 2**31 - 1), one_in=5)
_strings = rarely(
    st.sampled_from(["signup", "purchase", "$pageview", "$identify", "clicked button", "plan", "amount", "$browser",
                     "$country", "$pathname", "pro", "Chrome", "DE", "/pricing", "UTC", "Europe/Berlin",
                     "fuzz@example.com", "https://example.com/hook", "0 9 * * 1", "correct horse battery"]),
    st.one_of(st.text(max_size=30), st.sampled_from(["", " ", "\x00", "\ud7ff" * 3, "x" * 5000, "%", "_", "'"])),
    one_in=3,
)
_moments = st.integers(-90 * 86_400, 2 * 86_400).map(lambda offset: datetime.now(UTC) + timedelta(seconds=offset))
_datetimes = rarely(
    _moments.map(lambda moment: moment.isoformat()),
    st.one_of(
        st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
        st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59",
                         "0001-01-01T00:00:00+23:59", "2026-02-30T00:00:00Z", "2026-12-01", "yesterday", ""]),
    ),
    one_in=4,
)
_json_leaves = st.one_of(_strings.map(nodes.String), _ints.map(nodes.Int),
                         st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
                         st.booleans().map(nodes.Boolean), st.just(nodes.Null))
schemathesis.graphql.scalar("ID", _ids.map(nodes.String))
schemathesis.graphql.scalar("UUID", _ids.map(nodes.String))
schemathesis.graphql.scalar("Int", _ints.map(nodes.Int))
schemathesis.graphql.scalar("String", _strings.map(nodes.String))
schemathesis.graphql.scalar("DateTime", _datetimes.map(nodes.String))
schemathesis.graphql.scalar("JSON", st.one_of(_json_leaves, st.lists(_json_leaves, max_size=4).map(nodes.List)))

ANALYTICS = {"trends", "funnel", "funnelDropoffs", "retention", "activeUsers", "paths", "events", "persons", "person",
             "personJourney", "topValues", "sessionsSummary", "realtime", "eventDefinitions", "rejectedEvents"}
"""The queries that do the heaviest SQL over the sandbox's events: fuzzed with more examples."""


@pytest.fixture(scope="session")
def graphql_schema(graphql_url: str, sandbox: Sandbox):
    """The schema as the running service serves it (introspection), as schemathesis loads it."""
    KNOWN_IDS[:] = sandbox.known_ids
    return schemathesis.graphql.from_url(f"{graphql_url}/graphql")


def _operations() -> list[str]:
    served = create_schema()._schema
    return [f"{root.name}.{name}" for root in (served.query_type, served.mutation_type)
            for name in root.fields if name not in EXCLUDED]


# Not `schemathesis.pytest.from_fixture(...).parametrize()`: schemathesis 4.32 reads `Function._nodeid`, which
# pytest 9 no longer has. The operations come from the same schema the service serves, one test each.
@pytest.mark.parametrize("label", _operations())
def test_no_generated_operation_gets_a_5xx_or_an_error_without_a_code(label: str, graphql_schema, sandbox: Sandbox):
    operation = graphql_schema.find_operation_by_label(label)
    assert operation is not None, label
    # Mostly valid documents, which reach the resolver; some invalid ones, which must be refused with a code.
    cases = rarely(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE),
                   one_in=5)

    @hypothesis_settings(FUZZ, max_examples=25 if label.split(".")[1] in ANALYTICS else 8)
    @given(case=cases)
    def call(case) -> None:
        # 20 s: far more than any operation needs on the sandbox's few hundred events; slower means a runaway query.
        response = case.call(headers=sandbox.caller.headers, timeout=20)
        assert response.status_code < 500, response.text
        body = response.json()
        for error in body.get("errors") or ():
            code = (error.get("extensions") or {}).get("code")
            event(f"error code {code}")
            assert code, f"an error without extensions.code (a masked resolver crash?): {error}\n{case.body}"
            assert code != "INTERNAL", f"{error}\n{case.body}"
        if not body.get("errors"):
            event("answered without errors")

    call()
