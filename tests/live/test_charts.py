"""Live charts: each chart query's subscription pushes its result at once, then again (debounced) after events."""

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.live.ws_client import bearer, graphql_websocket
from tests.payloads import auth, batch_of, ingest_stub, track_event

LIVE_TRENDS = """
subscription($p: ID!, $range: DateRangeInput!, $event: String) {
  liveTrends(projectId: $p, series: [{event: $event, math: TOTAL}], interval: HOUR, dateRange: $range) {
    label points { bucket value }
  }
}"""


def _today() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(hours=2)).isoformat(), "to": (now + timedelta(hours=2)).isoformat()}


def _total(series: list[dict]) -> float:
    return sum(point["value"] for item in series for point in item["points"])


async def _send(stub, write_key: str, events) -> None:
    ack = await stub.Send(batch_of(list(events)), metadata=auth(write_key))
    assert ack.accepted == len(events)


async def test_live_trends_pushes_the_result_at_once_and_again_after_events(
    ingest_server, processor, project, caller, query_url
):
    channel, stub = ingest_stub(ingest_server.port)
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws, channel:
        await ws.subscribe(LIVE_TRENDS, p=str(project.project_id), range=_today(), event="signup")
        initial = (await ws.next_data())["liveTrends"]
        assert [item["label"] for item in initial] == ["signup"]
        assert _total(initial) == 0

        await _send(stub, project.write_key, [track_event("signup", user_id=f"u{i}") for i in range(3)])
        updated = (await ws.next_data())["liveTrends"]
        assert _total(updated) == 3


async def test_events_the_series_does_not_count_push_nothing(ingest_server, processor, project, caller, query_url):
    channel, stub = ingest_stub(ingest_server.port)
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws, channel:
        await ws.subscribe(LIVE_TRENDS, p=str(project.project_id), range=_today(), event="signup")
        await ws.next_data()
        await _send(stub, project.write_key, [track_event("pageview-ish") for _ in range(3)])
        assert await ws.silence(2.0) == []


async def test_a_burst_of_events_is_pushed_at_most_once_a_second(
    ingest_server, processor, project, caller, query_url
):
    channel, stub = ingest_stub(ingest_server.port)
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws, channel:
        await ws.subscribe(LIVE_TRENDS, p=str(project.project_id), range=_today(), event=None)
        await ws.next_data()
        pushes: list[tuple[float, float]] = []

        async def collect() -> None:
            while True:
                data = await ws.next_data(30)
                pushes.append((time.monotonic(), _total(data["liveTrends"])))
                if pushes[-1][1] == 30:
                    return

        collecting = asyncio.create_task(collect())
        # 30 events in 30 batches over about 3 seconds.
        for index in range(30):
            await _send(stub, project.write_key, [track_event("click", user_id=f"u{index}")])
            await asyncio.sleep(0.1)
        await asyncio.wait_for(collecting, 15)

    times = [at for at, _ in pushes]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.9 for gap in gaps), gaps
    # ~3 s of events at most one push a second (plus the trailing one for the last events).
    assert 2 <= len(pushes) <= 6, pushes


FUNNEL = """
subscription($p: ID!, $range: DateRangeInput!) {
  liveFunnel(projectId: $p, steps: [{event: "signup"}, {event: "purchase"}], dateRange: $range) {
    steps { event persons }
  }
}"""

RETENTION = """
subscription($p: ID!, $range: DateRangeInput!) {
  liveRetention(projectId: $p, startEvent: "signup", returnEvent: "purchase", period: DAY, periods: 1,
                dateRange: $range) { size values { count } }
}"""

SESSIONS = """
subscription($p: ID!, $range: DateRangeInput!) {
  liveSessions(projectId: $p, dateRange: $range) { totals { sessions persons } }
}"""

ACTIVE_USERS = """
subscription($p: ID!, $range: DateRangeInput!) {
  liveActiveUsers(projectId: $p, dateRange: $range, event: "signup") { dau }
}"""


def _funnel_persons(data: dict) -> list[int]:
    return [step["persons"] for step in data["liveFunnel"]["steps"]]


def _retention_sizes(data: dict) -> int:
    return sum(cohort["size"] for cohort in data["liveRetention"])


def _sessions(data: dict) -> int:
    return data["liveSessions"]["totals"]["sessions"]


def _dau(data: dict) -> int:
    return max((day["dau"] for day in data["liveActiveUsers"]), default=0)


@pytest.mark.parametrize(
    ("document", "measure", "before", "after"),
    [
        (FUNNEL, _funnel_persons, [0, 0], [2, 1]),
        (RETENTION, _retention_sizes, 0, 2),
        (SESSIONS, _sessions, 0, 2),
        (ACTIVE_USERS, _dau, 0, 2),
    ],
    ids=["funnel", "retention", "sessions", "active-users"],
)
async def test_every_chart_query_has_a_live_variant(
    ingest_server, processor, project, caller, query_url, document, measure, before, after
):
    channel, stub = ingest_stub(ingest_server.port)
    now_ns = time.time_ns()
    events = [
        track_event("signup", user_id="anna", timestamp_ns=now_ns - 3_000_000_000),
        track_event("purchase", user_id="anna", timestamp_ns=now_ns - 2_000_000_000),
        track_event("signup", user_id="ben", timestamp_ns=now_ns - 1_000_000_000),
    ]
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws, channel:
        await ws.subscribe(document, p=str(project.project_id), range=_today())
        assert measure(await ws.next_data()) == before
        await _send(stub, project.write_key, events)
        assert measure(await ws.next_data()) == after


LIVE_COUNTERS = """
subscription($p: ID!) { liveCounters(projectId: $p) { now activePersons eventsPerSecond windowSeconds } }
"""


async def test_live_counters_count_events_per_second_and_active_persons(
    ingest_server, processor, project, caller, query_url
):
    channel, stub = ingest_stub(ingest_server.port)
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws, channel:
        await ws.subscribe(LIVE_COUNTERS, p=str(project.project_id))
        initial = (await ws.next_data())["liveCounters"]
        assert (initial["activePersons"], initial["eventsPerSecond"]) == (0, 0)

        await _send(stub, project.write_key, [track_event("click", user_id=f"u{i}") for i in range(20)])
        counters = (await ws.next_data())["liveCounters"]
    assert counters["activePersons"] == 20
    assert counters["eventsPerSecond"] == pytest.approx(20 / counters["windowSeconds"])
