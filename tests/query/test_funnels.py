"""Funnels against the plain-Python reference, the exact edges of windows and ranges, and bad input.

The random data sits on a one-minute grid (with some events off it), so events often
share an instant, land exactly on a window's end or on a range boundary; persons
have several distinct ids, some distinct ids have no person, some events are bots,
some have no distinct id, and names and values are unicode.
"""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from storage.projects import CreatedProject
from tests.query.event_data import (
    PLANS,
    GeneratedEvent,
    GeneratedPerson,
    insert_events,
    insert_persons,
    random_persons,
)
from tests.query.graphql_client import error_codes, execute
from tests.query.reference import Persons
from tests.query.reference_funnels import best_attempts, expected_dropoffs, expected_funnel
from tests.query.tenant import Caller, create_owned_project

FUNNEL = """
query Funnel(
  $projectId: ID!, $steps: [FunnelStepInput!]!, $dateRange: DateRangeInput!, $windowSeconds: Int! = 1209600,
  $mode: FunnelMode! = ORDERED, $filters: [PropertyFilterInput!], $breakdown: BreakdownInput,
  $breakdownLimit: Int! = 10
) {
  funnel(
    projectId: $projectId, steps: $steps, dateRange: $dateRange, windowSeconds: $windowSeconds, mode: $mode,
    filters: $filters, breakdown: $breakdown, breakdownLimit: $breakdownLimit
  ) {
    steps { ...step }
    breakdownGroups { breakdownValue isOther steps { ...step } }
  }
}
fragment step on FunnelStep {
  event persons conversionFromStart conversionFromPrevious medianSecondsFromPrevious averageSecondsFromPrevious
}
"""

DROPOFFS = """
query Dropoffs(
  $projectId: ID!, $steps: [FunnelStepInput!]!, $dateRange: DateRangeInput!, $windowSeconds: Int! = 1209600,
  $mode: FunnelMode! = ORDERED, $step: Int!, $first: Int! = 100, $after: String
) {
  funnelDropoffs(
    projectId: $projectId, steps: $steps, dateRange: $dateRange, windowSeconds: $windowSeconds, mode: $mode,
    step: $step, first: $first, after: $after
  ) {
    persons { personId distinctIds cursor }
    hasNextPage endCursor
  }
}
"""

CENTER = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
NAMES = ("view", "signup", "café ☕", "other")
RANGE = (CENTER - timedelta(minutes=180), CENTER + timedelta(minutes=180))


def _iso(value: datetime) -> str:
    return value.isoformat()


def grid_events(rng: random.Random, persons: list[GeneratedPerson], count: int) -> list[GeneratedEvent]:
    distinct_ids = [distinct_id for person in persons for distinct_id in person.distinct_ids]
    unmapped = [f"anön-{n}" for n in range(20)]
    events = []
    for index in range(count):
        event_time = CENTER + timedelta(minutes=rng.randint(-200, 300))
        if rng.random() < 0.3:
            event_time += timedelta(seconds=rng.uniform(0, 60))
        roll = rng.random()
        is_bot = roll < 0.05
        if is_bot:
            distinct_id: str | None = f"bot-{rng.randint(0, 3)}"
        elif roll < 0.07:
            distinct_id = None
        elif roll < 0.85:
            distinct_id = rng.choice(distinct_ids)
        else:
            distinct_id = rng.choice(unmapped)
        properties: dict = {}
        if rng.random() < 0.8:
            properties["plan"] = rng.choice(PLANS)
        if rng.random() < 0.8:
            properties["amount"] = rng.randint(0, 100)
        events.append(
            GeneratedEvent(
                event_time=event_time,
                message_id=f"f{index:05d}",
                event=rng.choices(NAMES, weights=(5, 3, 3, 3))[0],
                properties=properties,
                distinct_id=distinct_id,
                is_bot=is_bot,
            )
        )
    return events


@pytest.fixture(scope="module")
async def dataset(module_db: asyncpg.Connection, caller: Caller) -> tuple[str, list[GeneratedEvent], Persons]:
    project = await create_owned_project(module_db, caller.organization_id, "funnels-random")
    rng = random.Random(51)
    persons = random_persons(rng, 60)
    events = grid_events(rng, persons, 1500)
    # Inserted shuffled: only the stored times matter.
    rng.shuffle(events)
    await insert_persons(module_db, project.project_id, persons)
    await insert_events(module_db, project.project_id, events)
    mapping = Persons(
        person_of={distinct_id: str(p.id) for p in persons for distinct_id in p.distinct_ids},
        traits_of={str(p.id): p.traits for p in persons},
    )
    return str(project.project_id), events, mapping


def _compare_steps(got: list[dict], wanted: list[dict]) -> None:
    assert [(s["event"], s["persons"]) for s in got] == [(s["event"], s["persons"]) for s in wanted]
    for g, w in zip(got, wanted, strict=True):
        for key in (
            "conversionFromStart",
            "conversionFromPrevious",
            "medianSecondsFromPrevious",
            "averageSecondsFromPrevious",
        ):
            if w[key] is None:
                assert g[key] is None, (g["event"], key)
            else:
                assert g[key] == pytest.approx(w[key], rel=1e-9, abs=1e-6), (g["event"], key)


async def check(client: httpx.AsyncClient, dataset: tuple, **variables: Any) -> dict:
    project_id, events, persons = dataset
    date_from, date_to = variables.pop("range", RANGE)
    window = variables.get("windowSeconds", 1209600)
    body = await execute(
        client, FUNNEL, projectId=project_id, dateRange={"from": _iso(date_from), "to": _iso(date_to)}, **variables
    )
    assert "errors" not in body, body["errors"]
    got = body["data"]["funnel"]
    wanted = expected_funnel(
        events,
        persons,
        steps=variables["steps"],
        date_from=date_from,
        date_to=date_to,
        window=timedelta(seconds=window),
        mode=variables.get("mode", "ORDERED"),
        filters=variables.get("filters") or [],
        breakdown=variables.get("breakdown"),
        breakdown_limit=variables.get("breakdownLimit", 10),
    )
    _compare_steps(got["steps"], wanted["steps"])
    assert [(g["breakdownValue"], g["isOther"]) for g in got["breakdownGroups"]] == [
        (w["breakdownValue"], w["isOther"]) for w in wanted["breakdownGroups"]
    ]
    for g, w in zip(got["breakdownGroups"], wanted["breakdownGroups"], strict=True):
        _compare_steps(g["steps"], w["steps"])
    return got


THREE = [{"event": "view"}, {"event": "signup"}, {"event": "café ☕"}]
CASES = {
    "three-steps-hour": {"steps": THREE, "windowSeconds": 3600},
    "three-steps-default-window": {"steps": THREE},
    "repeated-event": {"steps": [{"event": "view"}, {"event": "view"}, {"event": "signup"}], "windowSeconds": 1800},
    "one-minute-window": {"steps": THREE[:2], "windowSeconds": 60},
    "step-filters": {
        "steps": [
            {"event": "view", "filters": [{"key": "plan", "operator": "IN", "value": ["free", "日本語"]}]},
            {"event": "signup", "filters": [{"key": "amount", "operator": "GT", "value": 20}]},
            {"event": "café ☕", "filters": [{"key": "plan", "operator": "EQ", "value": "énterprise 🚀"}]},
        ],
        "windowSeconds": 7200,
    },
    "global-person-filter": {
        "steps": THREE,
        "windowSeconds": 7200,
        "filters": [{"key": "age", "operator": "GT", "value": 30, "type": "PERSON"}],
    },
    "global-event-filter": {
        "steps": THREE,
        "windowSeconds": 7200,
        "filters": [{"key": "plan", "operator": "NEQ", "value": "pro"}],
    },
    "breakdown-plan": {"steps": THREE, "windowSeconds": 3600, "breakdown": {"key": "plan"}},
    "breakdown-top-2": {"steps": THREE, "windowSeconds": 3600, "breakdown": {"key": "plan"}, "breakdownLimit": 2},
    "breakdown-person": {
        "steps": THREE,
        "windowSeconds": 3600,
        "breakdown": {"key": "plan", "type": "PERSON"},
        "breakdownLimit": 3,
    },
    "four-steps-narrow-range": {
        "steps": [*THREE, {"event": "other"}],
        "windowSeconds": 5400,
        "range": (CENTER - timedelta(minutes=30), CENTER + timedelta(minutes=29, seconds=30)),
    },
}


@pytest.mark.parametrize("mode", ["ORDERED", "STRICT"])
@pytest.mark.parametrize("case", CASES)
async def test_funnel_matches_reference(client: httpx.AsyncClient, dataset: tuple, case: str, mode: str) -> None:
    got = await check(client, dataset, mode=mode, **CASES[case])

    assert got["steps"][0]["persons"] > 0
    if case == "three-steps-hour":
        assert got["steps"][-1]["persons"] > 0, "the data must reach the last step"


@pytest.mark.parametrize("mode", ["ORDERED", "STRICT"])
async def test_dropoffs_match_reference_page_by_page(client: httpx.AsyncClient, dataset: tuple, mode: str) -> None:
    project_id, events, persons = dataset
    outcomes = best_attempts(
        events, persons, steps=THREE, date_from=RANGE[0], date_to=RANGE[1], window=timedelta(hours=1), mode=mode
    )
    for step in (2, 3):
        wanted = expected_dropoffs(outcomes, step)
        seen: list[dict] = []
        after = None
        while True:
            body = await execute(
                client,
                DROPOFFS,
                projectId=project_id,
                steps=THREE,
                windowSeconds=3600,
                mode=mode,
                dateRange={"from": _iso(RANGE[0]), "to": _iso(RANGE[1])},
                step=step,
                first=4,
                after=after,
            )
            assert "errors" not in body, body["errors"]
            page = body["data"]["funnelDropoffs"]
            seen.extend(page["persons"])
            if not page["hasNextPage"]:
                break
            after = page["endCursor"]
        assert wanted, "some persons must drop off"
        got = [f"p:{p['personId']}" if p["personId"] else f"d:{p['distinctIds'][0]}" for p in seen]
        assert got == wanted
        for item in seen:
            if item["personId"]:
                assert set(item["distinctIds"]) == {
                    d for d, person in persons.person_of.items() if person == item["personId"]
                }


# --- Exact edges, on hand-made data ---------------------------------------------------------------

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"}
TWO = [{"event": "a"}, {"event": "b"}]


async def _load(db: asyncpg.Connection, caller: Caller, events: list[tuple], persons: list[GeneratedPerson] = ()):
    project = await create_owned_project(db, caller.organization_id, f"funnel-{uuid.uuid4().hex[:6]}")
    await insert_persons(db, project.project_id, list(persons))
    await insert_events(
        db,
        project.project_id,
        [
            GeneratedEvent(when, f"m{index}", name, *extra, distinct_id=distinct_id, is_bot=is_bot)
            for index, (when, name, distinct_id, is_bot, *extra) in enumerate(events)
        ],
    )
    return str(project.project_id)


async def _persons(client: httpx.AsyncClient, project_id: str, **variables: Any) -> list[int]:
    variables.setdefault("steps", TWO)
    variables.setdefault("dateRange", DAY)
    body = await execute(client, FUNNEL, projectId=project_id, **variables)
    assert "errors" not in body, body["errors"]
    return [step["persons"] for step in body["data"]["funnel"]["steps"]]


@pytest.mark.parametrize("mode", ["ORDERED", "STRICT"])
async def test_a_step_exactly_at_the_window_end_is_in_and_a_microsecond_later_is_out(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller, mode: str
) -> None:
    project_id = await _load(
        db,
        caller,
        [
            (T0, "a", "on-edge", False),
            (T0 + timedelta(seconds=600), "b", "on-edge", False),
            (T0, "a", "past-edge", False),
            (T0 + timedelta(seconds=600, microseconds=1), "b", "past-edge", False),
        ],
    )

    assert await _persons(client, project_id, windowSeconds=600, mode=mode) == [2, 1]


async def test_step_one_at_to_is_out_at_from_is_in_and_later_steps_may_pass_the_range_end(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)
    project_id = await _load(
        db,
        caller,
        [
            (start, "a", "at-from", False),
            (end + timedelta(hours=1), "b", "at-from", False),
            (end, "a", "at-to", False),
            (end + timedelta(seconds=1), "b", "at-to", False),
            (start - timedelta(microseconds=1), "a", "before", False),
            (start + timedelta(seconds=5), "b", "before", False),
        ],
    )

    assert await _persons(client, project_id, windowSeconds=86400 * 2) == [1, 1]


async def test_identity_merge_mid_funnel_is_one_converting_person(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    person = GeneratedPerson(id=uuid.uuid4(), traits={}, distinct_ids=("anon-xyz", "user-42"))
    project_id = await _load(
        db,
        caller,
        [(T0, "a", "anon-xyz", False), (T0 + timedelta(minutes=3), "b", "user-42", False)],
        [person],
    )

    body = await execute(client, FUNNEL, projectId=project_id, steps=TWO, dateRange=DAY)

    steps = body["data"]["funnel"]["steps"]
    assert [s["persons"] for s in steps] == [1, 1]
    assert steps[1]["medianSecondsFromPrevious"] == 180.0
    assert steps[1]["averageSecondsFromPrevious"] == 180.0
    assert steps[1]["conversionFromStart"] == 1.0
    assert steps[0]["medianSecondsFromPrevious"] is None


@pytest.mark.parametrize("mode", ["ORDERED", "STRICT"])
async def test_bot_events_neither_count_nor_break_a_strict_funnel(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller, mode: str
) -> None:
    person = GeneratedPerson(id=uuid.uuid4(), traits={}, distinct_ids=("human", "crawler-id"))
    project_id = await _load(
        db,
        caller,
        [
            (T0, "a", "human", False),
            (T0 + timedelta(minutes=1), "x", "crawler-id", True),
            (T0 + timedelta(minutes=2), "b", "human", False),
            (T0, "a", "bot-only", True),
            (T0 + timedelta(minutes=1), "b", "bot-only", True),
        ],
        [person],
    )

    assert await _persons(client, project_id, mode=mode) == [1, 1]


async def test_strict_mode_breaks_on_any_other_event_between_steps_but_not_one_at_the_same_instant(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project_id = await _load(
        db,
        caller,
        [
            # Broken by another event between the steps.
            (T0, "a", "broken", False),
            (T0 + timedelta(minutes=1), "x", "broken", False),
            (T0 + timedelta(minutes=2), "b", "broken", False),
            # An event at the same instant as step 2 is not between the steps.
            (T0, "a", "tied", False),
            (T0 + timedelta(minutes=2), "x", "tied", False),
            (T0 + timedelta(minutes=2), "b", "tied", False),
            # A second attempt after the interruption converts.
            (T0, "a", "retry", False),
            (T0 + timedelta(minutes=1), "x", "retry", False),
            (T0 + timedelta(minutes=2), "a", "retry", False),
            (T0 + timedelta(minutes=7), "b", "retry", False),
        ],
    )

    assert await _persons(client, project_id, mode="STRICT") == [3, 2]
    assert await _persons(client, project_id, mode="ORDERED") == [3, 3]


async def test_best_attempt_is_the_furthest_then_the_earliest(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    three = [{"event": "a"}, {"event": "b"}, {"event": "c"}]
    project_id = await _load(
        db,
        caller,
        [
            # First attempt reaches step 2 only (c comes after its window); the second reaches step 3.
            (T0, "a", "p", False),
            (T0 + timedelta(seconds=10), "b", "p", False),
            (T0 + timedelta(seconds=500), "a", "p", False),
            (T0 + timedelta(seconds=530), "b", "p", False),
            (T0 + timedelta(seconds=700), "c", "p", False),
        ],
    )

    body = await execute(client, FUNNEL, projectId=project_id, steps=three, dateRange=DAY, windowSeconds=600)

    steps = body["data"]["funnel"]["steps"]
    assert [s["persons"] for s in steps] == [1, 1, 1]
    assert [s["medianSecondsFromPrevious"] for s in steps] == [None, 30.0, 170.0]


async def test_breakdown_of_simultaneous_attempts_takes_the_first_value_in_code_point_order_null_last(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project_id = await _load(
        db,
        caller,
        [
            (T0, "a", "p1", False, {"plan": "zeta"}),
            (T0, "a", "p1", False, {}),
            (T0, "a", "p1", False, {"plan": "Álpha"}),
            (T0 + timedelta(seconds=5), "b", "p1", False),
            (T0, "a", "p2", False, {}),
            (T0, "a", "p2", False, {"plan": "zeta"}),
        ],
    )

    body = await execute(client, FUNNEL, projectId=project_id, steps=TWO, dateRange=DAY, breakdown={"key": "plan"})

    groups = body["data"]["funnel"]["breakdownGroups"]
    # "z" (U+007A) comes before "Á" (U+00C1) in code-point order, though not in most locales.
    assert [(g["breakdownValue"], [s["persons"] for s in g["steps"]]) for g in groups] == [("zeta", [2, 1])]


async def test_empty_funnel_has_zero_conversions_and_null_times(
    client: httpx.AsyncClient, project: CreatedProject
) -> None:
    body = await execute(client, FUNNEL, projectId=str(project.project_id), steps=TWO, dateRange=DAY)

    assert body["data"]["funnel"]["steps"][1] == {
        "event": "b",
        "persons": 0,
        "conversionFromStart": 0.0,
        "conversionFromPrevious": 0.0,
        "medianSecondsFromPrevious": None,
        "averageSecondsFromPrevious": None,
    }


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"steps": [{"event": "a"}]}, id="one-step"),
        pytest.param({"steps": [{"event": "a"}] * 11}, id="eleven-steps"),
        pytest.param({"steps": [{"event": ""}, {"event": "b"}]}, id="empty-event-name"),
        pytest.param({"windowSeconds": 0}, id="zero-window"),
        pytest.param({"windowSeconds": -5}, id="negative-window"),
        pytest.param({"windowSeconds": 90 * 86400 + 1}, id="window-over-90-days"),
        pytest.param({"dateRange": {"from": DAY["to"], "to": DAY["from"]}}, id="inverted-range"),
        pytest.param({"dateRange": {"from": DAY["from"], "to": DAY["from"]}}, id="empty-range"),
        pytest.param({"breakdownLimit": 0}, id="breakdown-limit-zero"),
        pytest.param({"filters": [{"key": "amount", "operator": "GT", "value": "x"}]}, id="bad-global-filter"),
        pytest.param(
            {"steps": [{"event": "a", "filters": [{"key": "amount", "operator": "IN", "value": []}]}, {"event": "b"}]},
            id="bad-step-filter",
        ),
    ],
)
async def test_bad_funnel_input_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject, overrides: dict[str, Any]
) -> None:
    variables = {"projectId": str(project.project_id), "steps": TWO, "dateRange": DAY, **overrides}

    body = await execute(client, FUNNEL, **variables)

    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"step": 1}, id="step-one"),
        pytest.param({"step": 3}, id="step-past-the-end"),
        pytest.param({"first": 0}, id="empty-page"),
        pytest.param({"after": "bm90LWEta2V5"}, id="foreign-cursor"),
        pytest.param({"after": "%%%"}, id="garbage-cursor"),
    ],
)
async def test_bad_dropoffs_input_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject, overrides: dict[str, Any]
) -> None:
    variables = {"projectId": str(project.project_id), "steps": TWO, "dateRange": DAY, "step": 2, **overrides}

    body = await execute(client, DROPOFFS, **variables)

    assert error_codes(body) == ["BAD_USER_INPUT"]
