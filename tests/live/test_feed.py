"""The live event feed: events sent through ingest and the processor reach every subscriber, once."""

import asyncio
import time

from tests.live.ws_client import bearer, graphql_websocket
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import wait_for_stored
from trackmint_sdk import AsyncClient

FEED = """
subscription($p: ID!, $filter: LiveEventFilterInput) {
  liveEvents(projectId: $p, filter: $filter) {
    missed
    events { messageId event distinctId personId timestamp isBot properties committedAt }
  }
}"""


async def _events(ws, count: int, within: float = 20) -> list[dict]:
    """Feed events until `count` have arrived."""
    events: list[dict] = []
    async with asyncio.timeout(within):
        while len(events) < count:
            batch = (await ws.next_data(within))["liveEvents"]
            assert batch["missed"] == 0
            events.extend(batch["events"])
    return events


async def test_an_event_sent_with_the_sdk_reaches_each_subscriber_once(
    ingest_server, processor, project, caller, query_url, db
):
    async with (
        graphql_websocket(query_url, bearer(caller.access_token)) as first,
        graphql_websocket(query_url, {"token": caller.access_token}) as second,
    ):
        for ws in (first, second):
            await ws.subscribe(FEED, p=str(project.project_id))
        await asyncio.sleep(0.2)  # the subscriptions are registered with the hub
        sent_at = time.time()
        async with AsyncClient(project.write_key, f"127.0.0.1:{ingest_server.port}") as client:
            message_id = client.track("Signed Up", user_id="user-7", properties={"plan": "pro", "seats": 3},
                                      context={"page": {"url": "https://example.com/signup"}})
            assert await client.flush(10)

        for ws in (first, second):
            (event,) = await _events(ws, 1)
            assert event["messageId"] == message_id
            assert (event["event"], event["distinctId"], event["isBot"]) == ("Signed Up", "user-7", False)
            assert event["personId"] is not None
            assert event["properties"]["plan"] == "pro"
            assert event["properties"]["seats"] == 3
            assert event["properties"]["$current_url"] == "https://example.com/signup"
            # Nothing more: one event, one push.
            assert await ws.silence(1.0) == []
    assert await wait_for_stored(db, project.project_id, 1) == 1
    assert time.time() - sent_at < 15


async def test_a_redelivered_duplicate_is_not_announced_again(ingest_server, processor, project, caller, query_url):
    channel, stub = ingest_stub(ingest_server.port)
    event = track_event("purchase", user_id="user-1")
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws, channel:
        await ws.subscribe(FEED, p=str(project.project_id))
        await asyncio.sleep(0.2)
        await stub.Send(batch_of([event], sequence=1), metadata=auth(project.write_key))
        (first,) = await _events(ws, 1)
        # The same message id again, after JetStream's de-duplication window has nothing to do with it:
        # the writer finds it stored and the processor announces nothing.
        await stub.Send(batch_of([event], sequence=2), metadata=auth(project.write_key))
        assert await ws.silence(1.5) == []
    assert first["messageId"] == event.message_id


async def test_the_filter_keeps_matching_names_and_properties(ingest_server, processor, project, caller, query_url):
    channel, stub = ingest_stub(ingest_server.port)
    events = [
        track_event("purchase", user_id="a", properties={"plan": "pro", "total": 5}),
        track_event("purchase", user_id="b", properties={"plan": "free", "total": 5}),
        track_event("signup", user_id="c", properties={"plan": "pro", "total": 5}),
        track_event("purchase", user_id="d", properties={"plan": "pro", "total": 7}),
    ]
    wanted = {"events": ["purchase"], "properties": [{"key": "plan", "value": "pro"}, {"key": "total", "value": "5"}]}
    async with graphql_websocket(query_url, bearer(caller.access_token)) as ws, channel:
        await ws.subscribe(FEED, p=str(project.project_id), filter=wanted)
        await asyncio.sleep(0.2)
        await stub.Send(batch_of(events), metadata=auth(project.write_key))
        received = await _events(ws, 1)
        assert await ws.silence(1.0) == []
    assert [event["distinctId"] for event in received] == ["a"]
